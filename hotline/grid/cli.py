"""``flask --app app hotline visits plan | sweep``: household visit plans and the overdue ladder, once."""

import json

import click
from flask.cli import AppGroup

from hotline.timeutil import parse_instant, utcnow

visits_cli = AppGroup("visits", help="Household visits (探访): plans and the overdue sweep.")


def _instant(now_text: str | None):
    try:
        return parse_instant(now_text) if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 instant", param_hint="--now") from exc


@visits_cli.command("plan")
@click.option("--now", "now_text", metavar="INSTANT", help="As of this ISO 8601 instant (default: now).")
def plan_command(now_text: str | None):
    """Give every flagged household its visit plan from visits.toml (and retire plans no rule matches); JSON."""
    from hotline.grid.visits import sync_plans

    click.echo(json.dumps(sync_plans(now=_instant(now_text)), ensure_ascii=False))


@visits_cli.command("sweep")
@click.option("--now", "now_text", metavar="INSTANT", help="Sweep as of this ISO 8601 instant (default: now).")
def sweep_command(now_text: str | None):
    """One sweep of the overdue visits: each ladder step once; prints JSON."""
    from hotline.grid.visits import sweep_visits

    click.echo(json.dumps(sweep_visits(now=_instant(now_text)), ensure_ascii=False, indent=2))
