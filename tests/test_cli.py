"""``flask hotline init-db | demo | create-user``."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from hotline import create_app
from hotline.extensions import db
from hotline.timeutil import local_date
from models.audit import AuditLog
from models.department import Department
from models.ticket import Ticket
from models.user import ROLES, User
from tests.conftest import _postgres_database, app_config, login
from tests.helpers import TICKET_NUMBER_RE, count

DEMO_BUREAUS = {
    "civil_affairs",
    "medical_insurance",
    "education",
    "housing",
    "hrss",
    "emergency",
    "disabled_persons",
    "child_protection",
    "rescue_station",
    "health",
    "charity",
}


def hotline(runner, *args, input=None):
    return runner.invoke(args=["hotline", *args], input=input)


# --- init-db -------------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(tmp_path):
    """A database with no tables at all, on the backend the suite runs on."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    databases = _postgres_database(base)
    try:
        yield next(databases)
    finally:
        databases.close()  # drops it


def test_init_db_builds_every_table_in_an_empty_database(empty_database_url):
    fresh = create_app(app_config(empty_database_url))
    runner = fresh.test_cli_runner()
    result = hotline(runner, "init-db")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    again = hotline(runner, "init-db")
    assert again.exit_code == 0, again.output
    with fresh.app_context():
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    expected = {
        "alembic_version",
        "audit_log",
        "contact",
        "department",
        "interaction",
        "ticket",
        "ticket_event",
        "ticket_sequence",
        "user_account",
    }
    assert expected <= tables


def test_init_db_leaves_an_up_to_date_database_and_its_data_alone(runner, operator):
    result = hotline(runner, "init-db")
    assert result.exit_code == 0 and "up to date" in result.output
    assert count(User) == 1


# --- demo ----------------------------------------------------------------------------------


def test_demo_loads_a_county_with_users_for_every_role_and_a_month_of_tickets(runner):
    started = datetime.now(UTC)
    result = hotline(runner, "demo")
    assert result.exit_code == 0, result.output
    assert "demo loaded" in result.output and "operator1" in result.output

    levels = dict(db.session.execute(select(Department.level, func.count()).group_by(Department.level)).all())
    assert levels["township"] == 3 and levels["village"] == 6
    codes = set(db.session.scalars(select(Department.code)))
    assert codes >= DEMO_BUREAUS
    assert set(db.session.scalars(select(User.role).distinct())) == set(ROLES)
    assert all(u.department_id for u in db.session.scalars(select(User).where(User.role == "department")))

    every = db.session.scalars(select(Ticket)).all()
    # Besides the calls and texts, a grid worker's report and a visit that found difficulty (hotline.demo.visits).
    assert sorted(t.source for t in every if t.source) == ["grid", "visit"]
    tickets = [t for t in every if t.source is None]
    assert len(tickets) == 50
    assert {"new", "open", "pending_callback", "closed", "merged"} <= {t.status for t in tickets}
    created = [t.created_at for t in tickets]
    # 30 days back, each moved up to 10 hours earlier; nothing in the future.
    assert min(created) >= started - timedelta(days=30, hours=11) and max(created) <= datetime.now(UTC)
    assert max(created) - min(created) >= timedelta(days=25)
    assert len({local_date(c) for c in created}) >= 20
    numbers = [t.number for t in tickets]
    assert len(set(numbers)) == 50 and all(TICKET_NUMBER_RE.match(n) for n in numbers)
    assert all(n.startswith(local_date(t.created_at).strftime("%Y%m%d")) for n, t in zip(numbers, tickets, strict=True))


def test_demo_run_twice_loads_nothing_the_second_time(runner):
    assert hotline(runner, "demo").exit_code == 0
    counts = (count(Department), count(User), count(Ticket), count(AuditLog))
    again = hotline(runner, "demo")
    assert again.exit_code == 0 and "nothing loaded" in again.output
    assert (count(Department), count(User), count(Ticket), count(AuditLog)) == counts


def test_demo_logins_work(runner, client):
    hotline(runner, "demo")
    assert login(client, "operator1", "hotline-demo").status_code == 302
    assert client.get("/desk").status_code == 200


# --- create-user ---------------------------------------------------------------------------


def test_create_user_reads_the_password_from_stdin(runner):
    result = hotline(runner, "create-user", "zhao", "--role", "manager", "--password-stdin", input="s3cret-enough\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "zhao"))
    assert user.role == "manager" and user.department_id is None and user.active
    assert user.check_password("s3cret-enough")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "user_created"))
    assert (entry.actor_id, entry.target) == (None, "zhao")


def test_create_user_puts_department_staff_in_their_unit(runner, make_department):
    unit = make_department()
    result = hotline(
        runner,
        "create-user",
        "civil1",
        "--role",
        "department",
        "--department",
        "civil_affairs",
        "--name",
        "刘经办",
        "--password-stdin",
        input="s3cret-enough\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "civil1"))
    assert (user.department_id, user.display_name) == (unit.id, "刘经办")


@pytest.mark.parametrize(
    ("args", "password", "exit_code", "says"),
    [
        (["--role", "department", "--department", "no_such_unit"], "s3cret-enough", 1, "no_such_unit"),
        (["--role", "department"], "s3cret-enough", 1, "Error"),
        (["--role", "operator"], "short", 1, "Error"),
        (["--role", "operator"], "", 1, "Error"),
        (["--role", "wizard"], "s3cret-enough", 2, "wizard"),
        ([], "s3cret-enough", 2, "--role"),
    ],
    ids=["unknown-department", "department-missing", "short-password", "empty-password", "unknown-role", "no-role"],
)
def test_create_user_refuses_bad_input_and_creates_nobody(runner, make_department, args, password, exit_code, says):
    make_department()
    result = hotline(runner, "create-user", "zhao", *args, "--password-stdin", input=password + "\n")
    assert result.exit_code == exit_code
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a crash
    assert says in result.output
    assert count(User) == 0


def test_create_user_never_takes_the_password_from_the_command_line(runner):
    result = hotline(runner, "create-user", "zhao", "--role", "operator", input="s3cret-enough\n")
    assert result.exit_code == 2 and "--password-stdin" in result.output
    assert count(User) == 0


def test_create_user_refuses_a_taken_username(runner, operator):
    result = hotline(
        runner, "create-user", "OP_ZHANG", "--role", "operator", "--password-stdin", input="s3cret-enough\n"
    )
    assert result.exit_code == 1
    assert count(User) == 1
