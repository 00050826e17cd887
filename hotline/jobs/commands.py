"""``flask --app app hotline scheduler | sweep | send-outbox | sync-clocks``: the jobs, run from the command line."""

import json
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.timeutil import parse_instant, utcnow


def _instant(now_text: str | None):
    """``--now`` as an aware datetime, or the current instant when it is not given."""
    try:
        return parse_instant(now_text) if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 instant", param_hint="--now") from exc


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduler process (sweep, outbox, spool replay, heartbeat) until stopped."""
    from hotline.jobs.scheduler import run_forever

    run_forever(current_app._get_current_object())


@click.command("sweep")
@click.option("--now", "now_text", metavar="INSTANT", help="Sweep as of this ISO 8601 instant (default: now).")
@with_appcontext
def sweep_command(now_text: str | None):
    """Run one escalation sweep and print JSON with what it wrote."""
    from hotline.escalation.sweep import sweep

    click.echo(json.dumps(sweep(now=_instant(now_text)), ensure_ascii=False, indent=2))


@click.command("send-outbox")
@click.option("--every", type=int, default=0, help="Keep running: one pass every N seconds (Ctrl-C stops).")
@with_appcontext
def send_outbox_command(every: int):
    """Send the queued text messages: one pass, or one every N seconds (the scheduler process does it every 10 s)."""
    from hotline.jobs.outbox import send_outbox

    while True:
        report = send_outbox(current_app)
        if not every or report.sent or report.retrying or report.failed or report.not_sent:
            click.echo(f"{utcnow():%H:%M:%S} outbox: {report}")
        if not every:
            return
        time.sleep(every)


@click.command("sync-clocks")
@click.option("--now", "now_text", metavar="INSTANT", help="As of this ISO 8601 instant (default: now).")
@with_appcontext
def sync_clocks_command(now_text: str | None):
    """Start the clocks every open ticket should run (once, after upgrading to 0008_own_clock); prints JSON."""
    from hotline.escalation.service import sync_open_tickets

    click.echo(json.dumps(sync_open_tickets(now=_instant(now_text)), ensure_ascii=False))
