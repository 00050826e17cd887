"""``flask --app app hotline ...``: database, demo data, users."""

import sys

import click
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from hotline.discovery.cli import import_alerts_command
from hotline.errors import DomainError
from hotline.escalation.cli import sla_cli
from hotline.extensions import db
from hotline.grid.cli import visits_cli
from hotline.intake.cli import simulate
from hotline.intake.replay import spool_cli
from hotline.jobs.commands import scheduler_command, send_outbox_command, sweep_command, sync_clocks_command
from hotline.ops.backup import backup_command, restore_command
from hotline.ops.doctor import check_command
from hotline.timeutil import utcnow
from hotline.triage.cli import triage_command
from hotline.webhooks.cli import add_webhook_command, send_webhooks_command
from models.api_token import SCOPES
from models.department import Department
from models.user import ROLES

hotline_cli = AppGroup("hotline", help="Hotline administration commands.")
hotline_cli.add_command(simulate)
hotline_cli.add_command(send_outbox_command)
hotline_cli.add_command(sla_cli)
hotline_cli.add_command(sweep_command)
hotline_cli.add_command(scheduler_command)
hotline_cli.add_command(sync_clocks_command)
hotline_cli.add_command(spool_cli)
hotline_cli.add_command(triage_command)
hotline_cli.add_command(add_webhook_command)
hotline_cli.add_command(send_webhooks_command)
hotline_cli.add_command(check_command)
hotline_cli.add_command(backup_command)
hotline_cli.add_command(restore_command)
hotline_cli.add_command(import_alerts_command)
hotline_cli.add_command(visits_cli)


@hotline_cli.command("init-db")
def init_db():
    """Create or upgrade the database schema (applies every migration)."""
    upgrade(revision="heads")
    click.echo("database is up to date")


@hotline_cli.command("demo")
@click.option("--tickets", default=50, show_default=True, help="How many demo tickets to create.")
def demo(tickets: int):
    """Load the demo county (skipped if the database already has departments) and print the demo logins."""
    from hotline.demo import BULK_THRESHOLD, DEMO_PASSWORD, USERS, demo_exists, load_bulk_demo, load_demo

    if demo_exists():
        click.echo("demo data already present: nothing loaded")
    else:
        if tickets > BULK_THRESHOLD:  # a million tickets through the service functions would take hours
            click.echo(f"loading {tickets:,} tickets over two years in bulk...")
            counts = load_bulk_demo(now=utcnow(), tickets=tickets, echo=click.echo)
        else:
            counts = load_demo(now=utcnow(), tickets=tickets)
            db.session.commit()
        click.echo(
            f"demo loaded: {counts['departments']} departments, {counts['users']} users, {counts['tickets']} tickets"
        )
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for username, display, role, _dept in USERS:
        click.echo(f"  {username:<10} {role:<11} {display}")


@hotline_cli.command("check-funds")
def check_funds():
    """Check every relief fund's ledger: the balance equals the sum of its entries and is not below zero.

    Exits 1 naming each fund that fails (its balance, the sum of its entries).
    """
    from hotline.formatting import format_yuan
    from hotline.funds.service import ledger_balance_fen
    from models.fund import Fund

    found = db.session.scalars(select(Fund).order_by(Fund.code)).all()
    wrong = []
    for fund in found:
        total = ledger_balance_fen(fund.id)
        if fund.balance_fen != total or total < 0:
            balance, entries = format_yuan(fund.balance_fen), format_yuan(total)
            wrong.append(f"{fund.code} {fund.name}: balance {balance}, entries add up to {entries}")
    for line in wrong:
        click.echo(line)
    if wrong:
        raise SystemExit(1)
    click.echo(f"{len(found)} funds: every balance equals the sum of its entries")


@hotline_cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", "department_code", help="Department code, for department staff.")
@click.option("--name", "display_name", help="Display name (defaults to the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(username, role, department_code, display_name, password_stdin):
    """Create a user; the password is read from standard input (never from the command line)."""
    from hotline.admin.service import create_user

    if not password_stdin:
        raise click.UsageError("give --password-stdin and pipe the password in")
    password = sys.stdin.readline().rstrip("\r\n")
    department = None
    if department_code:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise click.ClickException(f"no department with code {department_code!r}")
    try:
        create_user(
            actor=None,
            now=utcnow(),
            username=username,
            display_name=display_name or username,
            role=role,
            password=password,
            department=department,
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"user {username} created ({role})")


@hotline_cli.command("create-token")
@click.argument("name")
@click.option(
    "--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="Repeat for each scope."
)
@click.option(
    "--department", "department_code", help="The unit's code: the token reads its tickets, works its referrals."
)
def create_token_command(name, scopes, department_code):
    """Create a partner API token; the secret is printed once, as the last line (only its hash is stored)."""
    from hotline.api.tokens import create_token

    department = None
    if department_code:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise click.ClickException(f"no department with code {department_code!r}")
    try:
        token, secret = create_token(actor=None, now=utcnow(), name=name, scopes=list(scopes), department=department)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"token {token.name} created: prefix {token.prefix}, scopes {', '.join(token.scopes)}")
    if token.service_user is not None:
        click.echo(f"acts on the referrals of {department.name} as the service account {token.service_user.username}")
    click.echo("the secret is shown once; keep it now:")
    click.echo(secret)
