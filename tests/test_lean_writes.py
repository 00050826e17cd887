"""What a text message writes and reads, index by index, and the schema the migrations build.

Every follow-up text writes an event and an Interaction and looks its sender
up: each index it touches is pages read and written on the webhook's hot path
(``migrations/versions/0022_lean_sms_indexes.py``). The queries that read the
partial and covering indexes must keep reading them.
"""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event

from hotline.extensions import db
from hotline.intake.service import _fast
from tests.conftest import login
from tests.twilio_helpers import CALLER, sms_form, twilio_post


def test_the_migrations_build_the_schema_the_models_describe(app):
    """The suite's database is made by the migrations: not one table, column or index differs from the models."""
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def _plan(sql: str, params) -> str:
    """The database's plan of ``sql`` with ``params``, as one text; on PostgreSQL with sequential scans off
    (the suite's tables are tiny: any index the statement can use wins over reading the table)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
        return "\n".join(row[-1] for row in rows)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params).all())


def test_a_senders_open_ticket_is_read_from_one_index(app):
    """The look-up of every text reads the ticket's columns it needs from ``ix_ticket_contact_open``: on SQLite
    no ticket row at all."""
    sender = _fast("sender", db.engine.dialect)  # the statement the webhook runs
    plan = _plan(sender.sql, sender.params({"phone": CALLER}))
    assert "ix_ticket_contact_open" in plan
    if db.engine.dialect.name == "sqlite":
        assert "COVERING INDEX ix_ticket_contact_open" in plan


def test_the_call_queries_read_the_calls_index_that_texts_do_not_write(app, client, logged_in, make_user, now):
    """Texts write no entry in ``ix_interaction_voice_direction_started`` (partial: calls only); the desk's call
    panel and the reports' call figures say ``channel = 'voice'`` in their SQL, so that SQLite reads it."""
    text = sms_form(sid="SM" + "1" * 32, body="请问临时救助怎么申请")
    assert twilio_post(client, "/twilio/sms", text).status_code == 200
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "FROM interaction" in statement and "interaction.channel" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert logged_in(make_user("operator")).get("/desk/live").status_code == 200
        manager = app.test_client()
        login(manager, make_user("manager").username)
        assert manager.get("/reports").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    assert len(seen) >= 2  # the desk's calls and the reports' call facts
    for statement, parameters in seen:
        assert "interaction.channel = 'voice'" in statement
        if db.engine.dialect.name == "sqlite":
            assert "ix_interaction_voice_direction_started" in _plan(statement, parameters)
