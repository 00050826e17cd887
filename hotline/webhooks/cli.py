"""``flask --app app hotline add-webhook | send-webhooks``: subscribe a partner, send what is due once."""

import time

import click
from flask.cli import with_appcontext

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.timeutil import utcnow


@click.command("add-webhook")
@click.argument("source")
@click.argument("url")
@click.option("--events", help="Comma-separated event kinds of webhooks.toml to send (default: every one it lists).")
@with_appcontext
def add_webhook_command(source: str, url: str, events: str | None):
    """Subscribe SOURCE (a code of sources.toml) to URL; prints the secret, once, on the last line."""
    from hotline.webhooks.service import create_subscription

    chosen = [kind.strip() for kind in events.split(",") if kind.strip()] if events is not None else None
    try:
        subscription = create_subscription(source=source, url=url, events=chosen, actor=None, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"webhook {subscription.id}: source {source} -> {subscription.url}")
    click.echo(f"events: {', '.join(subscription.events)}")
    click.echo("secret (shown once; the partner checks X-Hotline-Signature with it):")
    click.echo(subscription.secret)


@click.command("send-webhooks")
@click.option("--every", type=int, default=0, help="Keep running: one pass every N seconds (Ctrl-C stops).")
@with_appcontext
def send_webhooks_command(every: int):
    """Send the due webhook deliveries: one pass, or one every N seconds (the scheduler does it every 10 s)."""
    from hotline.webhooks.policy import webhook_policy
    from hotline.webhooks.service import send_due

    while True:
        report = send_due(now=utcnow(), policy=webhook_policy())
        if not every or report.delivered or report.retrying or report.failed:
            click.echo(f"{utcnow():%H:%M:%S} webhooks: {report}")
        if not every:
            return
        time.sleep(every)
