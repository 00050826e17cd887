"""Fixtures: app -> client -> runner, a fresh database per test, users, a fixed clock.

The test body runs inside one application context, with its own database
session. Each request of the test client and each command of the CLI runner
runs in an application context of its own, hence with its own session, removed
at its end as on a server: what a view or a command does not commit is lost.

The suite runs on SQLite by default. With ``TEST_DATABASE_URL`` naming a
PostgreSQL server (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``),
it creates its own database there, runs the migrations, and drops it at the end.
"""

import contextvars
import functools
import os
import re
import uuid
from datetime import UTC, datetime

import pytest
from flask import has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from config.settings import TestConfig
from hotline import append_only, create_app
from hotline.extensions import db
from models.department import Department
from models.user import User

PASSWORD = "correct-horse-42"
#: Hashed once: scrypt is slow on purpose, and tests create many users.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")  # cheap on purpose: tests only
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _postgres_database(base_url: str):
    import psycopg

    url = make_url(base_url)
    name = f"hotline_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        yield from _postgres_database(base)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'hotline-test.sqlite3'}"


def app_config(database_url: str) -> dict:
    return {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()} | {
        "SQLALCHEMY_DATABASE_URI": database_url,
    }


@pytest.fixture(scope="session")
def _schema(database_url):
    """Build the schema once per session through the migrations, as production does."""
    from flask_migrate import upgrade

    application = create_app(app_config(database_url))
    with application.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    return True


def _empty_all_tables() -> None:
    """Empty every table, the append-only ones included; their triggers stay in force for every test.

    On PostgreSQL this transaction alone runs as a replica (its triggers do not
    fire; tests connect as a superuser); on SQLite the triggers are dropped and
    created again around the deletes, from the same DDL as the migration.
    """
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for statement in append_only.drop_statements("sqlite"):
            db.session.execute(text(statement))
        for table in tables:
            db.session.execute(table.delete())
        for statement in append_only.create_statements("sqlite"):
            db.session.execute(text(statement))
    db.session.commit()


@pytest.fixture
def app(database_url, _schema, tmp_path):
    # Each test's own intake spool and upload folder: the repository's instance/ is the development server's.
    application = create_app(
        app_config(database_url) | {"SPOOL_DIR": str(tmp_path / "spool"), "UPLOAD_DIR": str(tmp_path / "uploads")}
    )
    application.test_client_class = RequestScopedClient
    application.test_cli_runner_class = CommandScopedRunner
    with application.app_context():
        yield application
        db.session.remove()
        _empty_all_tables()
        db.session.remove()
        db.engine.dispose()


def _on_its_own(run):
    """Call ``run()`` as a server or the ``flask`` command would: in no application context of the test's.

    The ``app`` fixture keeps one application context open for the whole test,
    and Flask reuses the active one for a request; Flask-SQLAlchemy scopes its
    session by application context, so a request would share the test's
    session (and ``g``: the logged-in user, the CSRF token, the locale) and a
    view that forgot to commit would pass. Here ``run`` goes in an empty
    ``contextvars`` context, so the request or command pushes an application
    context of its own, whose session is removed (its uncommitted work rolled
    back) when that context ends.

    Around it the test's own session commits what the test wrote, so the
    request sees it from its own connection and no lock of the test's holds
    it up, and afterwards expires what it holds (``expire_on_commit`` is off),
    so the test reads what the request committed: from a new transaction on
    PostgreSQL, from a new read on SQLite.
    """
    if not has_app_context():
        return run()
    db.session.commit()
    try:
        return contextvars.Context().run(run)
    finally:
        db.session.expire_all()


class RequestScopedClient(FlaskClient):
    """A test client whose every request runs in its own application context, with its own session.

    The response body is read (buffered) before that context is left, so no
    part of the response runs in the test's context. In ``with client:`` blocks
    Flask keeps the last request's contexts pushed until the block ends, as
    usual.
    """

    def run_wsgi_app(self, environ, buffered=False):
        return _on_its_own(functools.partial(super().run_wsgi_app, environ, buffered=True))


class CommandScopedRunner(FlaskCliRunner):
    """A CLI runner whose every command runs in its own application context, as ``flask`` runs one."""

    def invoke(self, cli=None, args=None, **kwargs):
        def run():
            with self.app.app_context():
                return FlaskCliRunner.invoke(self, cli, args, **kwargs)

        return _on_its_own(run)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def now():
    """A fixed instant: Thursday 2025-10-09 12:00 in Asia/Shanghai."""
    return datetime(2025, 10, 9, 4, 0, tzinfo=UTC)


@pytest.fixture
def make_department(app, now):
    def make(code="civil_affairs", name="县民政局", kind="bureau", level="county", parent=None, duty_phone=None):
        dept = Department(
            code=code, name=name, kind=kind, level=level, parent=parent, duty_phone=duty_phone, active=True
        )
        db.session.add(dept)
        db.session.commit()
        return dept

    return make


@pytest.fixture
def make_user(app, now):
    counter = iter(range(1, 10_000))

    def make(role="operator", username=None, department=None, display_name=None, active=True):
        n = next(counter)
        user = User(
            username=username or f"{role}{n}",
            display_name=display_name or f"{role.title()} {n}",
            role=role,
            department=department,
            active=active,
            failed_logins=0,
            password_hash=PASSWORD_HASH,
            session_token=f"tok{n}",
            created_at=now,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def operator(make_user):
    return make_user("operator", username="op_zhang", display_name="张晓红")


@pytest.fixture
def civil(make_department):
    """The county civil affairs bureau (民政局), with a duty phone; ``health`` the health bureau."""
    return make_department("civil_affairs", "县民政局", duty_phone="+8613900000001")


@pytest.fixture
def civil_staff(make_user, civil):
    return make_user("department", username="civil1", department=civil)


@pytest.fixture
def health(make_department):
    return make_department("health", "县卫生健康局", duty_phone="+8613900000010")


@pytest.fixture
def health_staff(make_user, health):
    return make_user("department", username="health1", department=health)


@pytest.fixture
def manager(make_user):
    return make_user("manager", username="mgr_chen", display_name="陈主任")


def csrf_token(client, url="/login") -> str:
    """The CSRF token of the client's session, read from a page's form as a browser would."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no csrf token on {url}"
    return match.group(1) or match.group(2)


def login(client, username, password=PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def post_form(client, url, data, page="/account/password"):
    """POST ``data`` to ``url`` with the CSRF token a page of the app handed out."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


@pytest.fixture
def logged_in(client):
    """Log ``client`` in as ``user`` and return the client."""

    def do(user):
        response = login(client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do
