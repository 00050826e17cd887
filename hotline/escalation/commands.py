"""``flask --app app hotline sweep | scheduler | sync-clocks``."""

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.timeutil import parse_instant, utcnow


@click.command("sweep")
@click.option("--now", "now_text", metavar="INSTANT", help="Sweep as of this ISO 8601 instant (default: now).")
@with_appcontext
def sweep_command(now_text: str | None):
    """Run one escalation sweep and print JSON with what it wrote."""
    from hotline.escalation.sweep import sweep

    try:
        now = parse_instant(now_text) if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 instant", param_hint="--now") from exc
    click.echo(json.dumps(sweep(now=now), ensure_ascii=False, indent=2))


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduler process (sweep, outbox, heartbeat) until stopped."""
    from hotline.escalation.scheduler import run_forever

    run_forever(current_app._get_current_object())


@click.command("sync-clocks")
@click.option("--now", "now_text", metavar="INSTANT", help="As of this ISO 8601 instant (default: now).")
@with_appcontext
def sync_clocks_command(now_text: str | None):
    """Start the clocks every open ticket should run (once, after upgrading to 0008_own_clock); prints JSON."""
    from hotline.escalation.service import sync_open_tickets

    try:
        now = parse_instant(now_text) if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 instant", param_hint="--now") from exc
    click.echo(json.dumps(sync_open_tickets(now=now), ensure_ascii=False))
