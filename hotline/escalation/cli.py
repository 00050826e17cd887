"""``flask --app app hotline sla ...``: look at the service clocks from the command line."""

import json

import click
from flask.cli import AppGroup

from hotline.escalation.sla import calendar_warning, deadlines
from hotline.timeutil import parse_instant, to_local, utcnow
from models.ticket import PRIORITIES

sla_cli = AppGroup("sla", help="Service clocks from config/policy/sla.toml and calendar.toml.")


@sla_cli.command("due")
@click.option("--priority", type=click.Choice(PRIORITIES, case_sensitive=False), required=True)
@click.option(
    "--from",
    "start_text",
    metavar="INSTANT",
    help="When the clocks start, ISO 8601 (without an offset: Asia/Shanghai). Default: now.",
)
def due(priority: str, start_text: str | None):
    """Print, as JSON, when each clock of PRIORITY started at --from is due (Asia/Shanghai).

    A ``calendar_warning`` key appears only when a working-time clock counted
    Monday-Friday through a year whose holiday notice is not loaded.
    """
    try:
        start = parse_instant(start_text) if start_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(f"{start_text!r} is not an ISO 8601 instant", param_hint="--from") from exc
    due_at = deadlines(priority, start)
    result: dict[str, str] = {clock: to_local(at).isoformat() for clock, at in due_at.items()}
    warning = calendar_warning(priority, start, due_at)
    if warning:
        result["calendar_warning"] = warning
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
