"""The event log and the audit log refuse UPDATE, DELETE and TRUNCATE below the app, on both databases."""

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from hotline import append_only
from hotline.audit import record
from hotline.extensions import db
from models.audit import AuditLog
from models.ticket import TicketEvent
from tests.helpers import log_call


@pytest.fixture
def history(operator, now):
    """A ticket with its events and one audit entry, committed."""
    ticket = log_call(operator, now)
    record("user_created", actor_id=operator.id, now=now, target=operator.username)
    db.session.commit()
    events = db.session.execute(select(TicketEvent.id, TicketEvent.kind, TicketEvent.payload)).all()
    audit = db.session.execute(select(AuditLog.id, AuditLog.kind, AuditLog.target)).all()
    assert events and audit
    return {"ticket": ticket, "events": events, "audit": audit}


def _refused(statement) -> str:
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()
    message = str(caught.value.orig)
    assert "append-only" in message
    return message


def _unchanged(history) -> None:
    assert db.session.execute(select(TicketEvent.id, TicketEvent.kind, TicketEvent.payload)).all() == history["events"]
    assert db.session.execute(select(AuditLog.id, AuditLog.kind, AuditLog.target)).all() == history["audit"]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ticket_event SET kind = 'note'",
        "UPDATE ticket_event SET payload = NULL WHERE id = (SELECT MIN(id) FROM ticket_event)",
        "DELETE FROM ticket_event",
        "DELETE FROM ticket_event WHERE id = (SELECT MAX(id) FROM ticket_event)",
        "UPDATE audit_log SET target = 'someone else'",
        "DELETE FROM audit_log",
    ],
)
def test_raw_sql_cannot_rewrite_history(history, sql):
    message = _refused(text(sql))
    table = sql.split()[1] if sql.startswith("UPDATE") else sql.split()[2]
    assert table in message
    _unchanged(history)


@pytest.mark.parametrize(
    "statement",
    [
        lambda: update(TicketEvent).values(kind="note"),
        lambda: update(TicketEvent).where(TicketEvent.kind == "created").values(actor_id=None),
        lambda: delete(TicketEvent),
        lambda: update(AuditLog).values(kind="nothing"),
        lambda: delete(AuditLog).where(AuditLog.kind == "user_created"),
    ],
    ids=["update-events", "update-one-event", "delete-events", "update-audit", "delete-audit"],
)
def test_core_statements_through_the_apps_session_are_refused(history, statement):
    _refused(statement())
    _unchanged(history)


def test_a_fresh_connection_of_the_app_is_refused_too(history):
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("DELETE FROM audit_log"))
        conn.rollback()
    _unchanged(history)


def test_emptying_a_table_at_once_is_refused(history):
    """PostgreSQL's TRUNCATE has a trigger of its own; SQLite has no TRUNCATE, and its whole-table DELETE is the
    same statement its "truncate optimisation" would run without row triggers: both must be refused."""
    for table in append_only.TABLES:
        if db.engine.dialect.name == "postgresql":
            _refused(text(f"TRUNCATE {table} CASCADE"))
        else:
            _refused(text(f"DELETE FROM {table}"))  # noqa: S608  (the module's own table names)
    _unchanged(history)


def test_new_events_and_audit_entries_are_still_written(history, operator, now):
    before = db.session.scalar(select(func.count(TicketEvent.id)))
    log_call(operator, now, summary="第二个来电")
    record("user_updated", actor_id=operator.id, now=now, target=operator.username)
    db.session.commit()
    assert db.session.scalar(select(func.count(TicketEvent.id))) > before
    assert db.session.scalar(select(func.count(AuditLog.id))) == len(history["audit"]) + 1


def test_the_triggers_are_in_the_schema(app):
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        names = set(db.session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
    else:
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    expected = set(append_only.trigger_names(dialect))
    assert expected <= names and len(expected) == 4
