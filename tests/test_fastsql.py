"""The SMS webhook's statements below the ORM (``hotline.fastsql``) store rows as SQLAlchemy would.

Run on the test database of the session (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, insert, literal_column, select, text

from hotline.extensions import db
from hotline.fastsql import Prepared
from hotline.intake.service import _FAST, _INTERACTION_COLUMNS
from hotline.tickets.service import EVENT_COLUMNS
from hotline.user_notifications import NOTIFICATION_COLUMNS
from models.interaction import Interaction
from models.notification import Notification
from models.ticket import TicketEvent
from models.types import UTCDateTime

AT = datetime(2026, 3, 1, 2, 3, 4, 567890, tzinfo=UTC)
_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


def _label(context) -> str:
    """A default that reads the row being inserted, as SQLAlchemy's context-sensitive defaults do."""
    return f"for {context.get_current_parameters()['name']}"


@pytest.fixture
def scratch(app):
    """A table with every kind of default a new column could bring, created for the test and dropped after."""
    metadata = MetaData()
    table = Table(
        "fastsql_scratch",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(20)),
        Column("scalar", String(10), default="plain"),
        Column("flag", Boolean, default=False),
        Column("counted", Integer, default=_next),
        Column("label", String(40), default=_label),
        Column("doc", JSON, default=dict),
        Column("stamped", UTCDateTime(), default=lambda: AT),
        Column("server", String(10), server_default=text("'fromdb'")),
    )
    metadata.create_all(db.engine)
    yield table
    metadata.drop_all(db.engine)


def _run(prepared: Prepared, values: dict):
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        prepared.execute(cursor, values)
        connection.commit()
    finally:
        connection.close()


def test_every_python_default_and_the_server_default_are_filled(app, scratch):
    _run(Prepared(insert(scratch), db.engine.dialect, columns=("name",)), {"name": "短信"})
    with db.engine.connect() as conn:
        row = conn.execute(select(scratch)).mappings().one()
    assert row["name"] == "短信"
    assert (row["scalar"], row["flag"], row["label"], row["doc"], row["server"]) == (
        "plain",
        False,
        "for 短信",
        {},
        "fromdb",
    )
    assert isinstance(row["counted"], int) and row["counted"] >= 1
    assert row["stamped"] == AT


def test_a_row_through_the_fast_path_equals_the_same_row_through_core(app, scratch):
    values = {"name": "x", "doc": {"words": ["走丢", "救命"], "n": 2}, "stamped": AT, "flag": True}
    _run(Prepared(insert(scratch), db.engine.dialect, columns=tuple(values)), values)
    with db.engine.begin() as conn:
        conn.execute(insert(scratch), values)
        fast, core = conn.execute(select(scratch).order_by(scratch.c.id)).mappings().all()
    same = {key: fast[key] for key in fast if key not in ("id", "counted")}
    assert same == {key: core[key] for key in core if key not in ("id", "counted")}


def test_a_sql_expression_default_is_computed_by_the_database_in_the_statement(app):
    metadata = MetaData()
    table = Table("fastsql_expression", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))
    table.append_column(Column("twice", Integer, default=literal_column("2") * 21))
    metadata.create_all(db.engine)
    try:
        prepared = Prepared(insert(table), db.engine.dialect, columns=("n",))
        _run(prepared, {"n": 1})
        with db.engine.connect() as conn:
            assert conn.execute(select(table.c.n, table.c.twice)).one() == (1, 42)
    finally:
        metadata.drop_all(db.engine)


@pytest.mark.parametrize(
    ("name", "columns", "table"),
    [
        ("event", EVENT_COLUMNS, TicketEvent.__table__),
        ("replied", NOTIFICATION_COLUMNS, Notification.__table__),
        ("interaction", _INTERACTION_COLUMNS, Interaction.__table__),
    ],
)
def test_the_webhooks_inserts_leave_out_only_columns_with_a_default_or_none_needed(app, name, columns, table):
    """Each INSERT of the webhook names the columns it has values for; any other column of the model must
    be filled by a default the fast path computes (or be nullable): a new NOT NULL column without one
    fails here, not on the first text of a county."""
    prepared = _FAST[name](db.engine.dialect)
    filled = set(prepared.defaults)
    for column in table.columns:
        if column.key in columns or column.primary_key:
            continue
        assert column.nullable or column.key in filled or column.server_default is not None, column.key
