"""Many rows in one statement: the escalation sweep's thousands of steps, events, notices and row updates.

On PostgreSQL the rows travel as one array per column and the statement reads
them back as a table with ``unnest``: ``INSERT .. SELECT .. FROM unnest(..)``
and ``UPDATE .. FROM unnest(..)``, one round trip for the batch. The
statement's text is the same whatever the number of rows: SQLAlchemy compiles
it once, psycopg keeps its parsed form and, after a few runs, a prepared
statement on the server. (An executemany sends one statement per row;
SQLAlchemy's multi-row VALUES sends a text with a placeholder per value, which
psycopg parsed again on every run: at a thousand rows that cost more than the
server's work.) A single row is a plain INSERT of its values.

On SQLite, where a statement costs no round trip, the rows go as an
executemany (SQLAlchemy's ``insertmanyvalues`` for an INSERT).

Every statement is built from the table's ``Table`` object: each array is cast
to its column's type and each value goes through the column type's bind
processing (UTC datetimes, JSON) as in a plain INSERT or UPDATE. An INSERT is
built once per table, columns and options (``functools.cache``), with its
arrays bound at execution: building it anew for each call cost the client more
than the round trip of a new ticket's two events. An UPDATE is built per call
(its values shared by every row are part of it); its arrays are bound the same
way.
"""

from collections.abc import Sequence
from functools import cache

import psycopg
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Table, bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from hotline.extensions import DIALECT_INSERT, db


class _BinaryArray(list):
    """A column's values, sent by psycopg in PostgreSQL's binary array format.

    psycopg's text format quotes every element through a regular expression: a thousand timestamps took
    about 4 ms, and a batch's arrays about as long as the server's work on its rows. The binary format packs
    each element as it is.
    """


psycopg.adapters.register_dumper(_BinaryArray, ListBinaryDumper)


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _unnest(table: Table, columns: tuple[str, ...]):
    """A table named ``bulk`` with ``columns``, read from one array parameter per column (``bulk_<column>``,
    bound by ``_arrays``) cast to the column's type."""
    arrays = [cast(bindparam(f"bulk_{name}", type_=NullType()), ARRAY(table.c[name].type)) for name in columns]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="bulk")


def _arrays(table: Table, columns: Sequence[str], rows: list[dict]) -> dict:
    """The parameters of ``_unnest``: each column's values converted by its type's bind processing here, as a
    plain INSERT would, then sent to the driver as is (``_BinaryArray``)."""
    dialect = db.session.get_bind().dialect
    params = {}
    for name in columns:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values = [process(value) for value in values]
        params[f"bulk_{name}"] = _BinaryArray(values)
    return params


@cache
def _insert(table: Table, columns: tuple[str, ...], dialect: str, many: bool, unless: tuple, returning: tuple):
    """The INSERT of ``insert_rows``: from ``_unnest`` (``many`` rows on PostgreSQL), else of one row's values."""
    if many:
        stmt = DIALECT_INSERT["postgresql"](table).from_select(columns, select(_unnest(table, columns)))
    else:
        stmt = DIALECT_INSERT[dialect](table) if unless else insert(table)
    if unless:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(unless))
    return stmt.returning(*returning) if returning else stmt


def insert_rows(table: Table, rows: list[dict], *, unless: Sequence[str] = (), returning: Sequence = ()) -> list:
    """Insert ``rows`` (dicts with the same keys, the columns given) into ``table`` in the current transaction.

    ``unless``: the columns of a unique key; a row whose key is already there is skipped (``ON CONFLICT DO
    NOTHING``). ``returning``: columns of ``table`` to return for each row inserted (in no particular order);
    the rows are returned, else an empty list.
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    dialect = db.session.get_bind().dialect.name
    many = dialect == "postgresql" and len(rows) > 1
    stmt = _insert(table, columns, dialect, many, tuple(unless), tuple(returning))
    # SQLite, or a single row: an INSERT of its values (an executemany for several on SQLite).
    params = _arrays(table, columns, rows) if many else rows
    result = db.session.connection().execute(stmt, params)
    return result.all() if returning else []


def update_rows(table: Table, rows: list[dict], *, key: str, **same) -> None:
    """Update the rows of ``table`` whose ``key`` column is each row's ``key`` value (one row per key) with its
    other values, and with ``same`` (column -> value) for every one of them, in the current transaction."""
    if not rows:
        return
    columns = list(rows[0])
    changed = [name for name in columns if name != key]
    if _postgresql():
        source = _unnest(table, tuple(columns))
        stmt = (
            update(table)
            .where(table.c[key] == source.c[key])
            .values({**{name: source.c[name] for name in changed}, **same})
        )
        db.session.connection().execute(stmt, _arrays(table, columns, rows))
        return
    # SQLite: an executemany; the bind names must differ from the columns' (SQLAlchemy reserves those for SET).
    stmt = (
        update(table)
        .where(table.c[key] == bindparam(f"bulk_{key}"))
        .values({**{name: bindparam(f"bulk_{name}", type_=table.c[name].type) for name in changed}, **same})
    )
    db.session.connection().execute(stmt, [{f"bulk_{name}": row[name] for name in columns} for row in rows])
