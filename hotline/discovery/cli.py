"""``flask --app app hotline import-alerts FILE [--commit]``: the monitoring platform's export, imported."""

import json
from pathlib import Path

import click
from sqlalchemy import select

from hotline.access import can_import_alerts
from hotline.discovery.alerts import audit_import, import_alerts
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.timeutil import utcnow
from models.user import User


@click.command("import-alerts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--commit", is_flag=True, help="Import the valid rows. Without it nothing is written (a preview).")
@click.option(
    "--user",
    "username",
    help="Import as this user (township staff: their own township's rows only). Default: the console, every township.",
)
def import_alerts_command(file: Path, commit: bool, username: str | None):
    """Check (and with --commit import) an XLSX or CSV export; print JSON: rows, created, duplicates,
    added_to_open and errors (row as the spreadsheet numbers it, message)."""
    actor = None
    if username:
        actor = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if actor is None or not can_import_alerts(actor):
            raise click.ClickException(f"{username!r} is not an active admin or township staff member")
    now = utcnow()
    try:
        report = import_alerts(
            file.read_bytes(),
            actor=actor,
            now=now,
            commit=commit,
            after_batch=(lambda _done: db.session.commit()) if commit else None,
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    if commit:
        figures = report.summary()
        audit_import(actor=actor, now=now, filename=file.name, **figures | {"errors": len(figures["errors"])})
        db.session.commit()
    else:
        db.session.rollback()
    click.echo(json.dumps(report.summary(), ensure_ascii=False))
