"""The bulk demo's rows on their way to the database: columns and defaults from the models' ``Table`` objects.

A row is a dict of column name to value, timestamps as integer epoch seconds.
Which columns are written, and what a column the generator does not name
gets, come from the SQLAlchemy tables in ``models/``: its Python-side default
(scalar or callable, ``dict`` for a JSON payload), 1 for the mapper's version
column, NULL for a nullable column; a column with only a server default is
left out of the INSERT / COPY so the database fills it. A NOT NULL column
with no default that the generator does not write stops the load with its
name, instead of loading rows a service would never have written. Values are
turned into what the column type stores by the type (``UTCDateTime``,
``Date``, ``JSON``, ``Boolean``), not by a list of names.
"""

import json
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import JSON, Boolean, Date, DateTime

from models.contact import Contact
from models.escalation import EscalationStep
from models.interaction import Interaction
from models.referral import Referral
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.ticket import Ticket, TicketEvent, TicketSequence

DAY = 86400
#: The tables the bulk demo writes, parents before children (foreign keys).
MODELS = {
    model.__table__.name: model
    for model in (
        Contact,
        Ticket,
        Referral,
        Interaction,
        TicketEvent,
        EscalationStep,
        AdvanceRelief,
        AdvanceReliefPayment,
        TicketSequence,
    )
}
#: The tables whose ids the generator assigns (every one but ``ticket_sequence``).
ID_TABLES = tuple(name for name, model in MODELS.items() if "id" in model.__table__.c)
_MISSING = object()


def _filler(model, column) -> Callable[[], object] | object:
    """What a row that does not name ``column`` gets: a zero-argument callable, or _MISSING (left to the server)."""
    if column is model.__mapper__.version_id_col:
        return lambda: 1  # the ORM's first version
    default = column.default
    if default is not None:
        if default.is_scalar:
            value = default.arg
            return lambda: value
        if default.is_callable:
            return lambda: default.arg(None)  # SQLAlchemy wraps a zero-argument callable to take a context
        raise RuntimeError(f"bulk demo: {column} has a SQL default the bulk writer cannot evaluate; write it")
    if column.server_default is not None:
        return _MISSING
    if column.nullable and not column.primary_key:
        return lambda: None

    def missing():
        raise RuntimeError(f"bulk demo: {column} is NOT NULL and has no default, and the generator does not write it")

    return missing


class Writer:
    """Rows per table, written in chunks on one raw connection: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    While loading, the secondary indexes of the tables are dropped (rebuilt once at
    the end, which is several times faster than keeping them up to date row by row)
    and SQLite does not re-check foreign keys the generator already keeps right.
    """

    def __init__(self, raw, dialect: str):
        self.raw = raw
        self.dialect = dialect
        self.rows: dict[str, list[dict]] = {t: [] for t in MODELS}
        self.written: dict[str, int] = dict.fromkeys(MODELS, 0)
        self._days: dict[int, str] = {}
        self._times = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
        self._suffix = ".000000" if dialect == "sqlite" else "+00"
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        #: table -> [(column name, filler, converter or None)], in the table's column order.
        self._plan: dict[str, list[tuple[str, object, Callable | None]]] = {}
        for name, model in MODELS.items():
            self._plan[name] = [
                (column.name, _filler(model, column), self._converter(column.type)) for column in model.__table__.c
            ]
        self.indexes: list[tuple[str, str]] = []

    def _converter(self, kind) -> Callable | None:
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            return self.stamp
        if isinstance(kind, Date):
            return date.isoformat
        if isinstance(kind, JSON):
            return self._encode
        if isinstance(kind, Boolean) and self.dialect == "sqlite":
            return int
        return None

    def stamp(self, ts: int) -> str:
        """What SQLAlchemy's DateTime stores on SQLite (naive UTC with microseconds), or a UTC literal for COPY."""
        day, second = divmod(ts, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return f"{prefix} {self._times[second]}{self._suffix}"

    def add(self, table: str, row: dict) -> None:
        self.rows[table].append(row)

    def begin(self) -> None:
        cursor = self.raw.cursor()
        tables = [name for name in MODELS if name != "ticket_sequence"]
        if self.dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, where SQLite honours it
            found = [
                row
                for row in cursor.execute(
                    "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "AND sql NOT LIKE 'CREATE UNIQUE%'"
                ).fetchall()
                if row[2] in tables
            ]
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef NOT LIKE 'CREATE UNIQUE%%' "
                "AND tablename = ANY(%s)",
                (tables,),
            )
            found = cursor.fetchall()
        self.indexes = [(row[0], row[1]) for row in found]
        for name, _sql in self.indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        self.raw.commit()

    def end(self) -> None:
        """Rebuild the indexes, switch foreign keys back on; on PostgreSQL, let the planner learn the new sizes.

        SQLite is left without statistics, as the application's own database is (nothing runs
        ANALYZE there): without STAT4 its statistics know only averages, and on columns as
        skewed as ``status`` (nearly every ticket closed) they lead the planner to scan.
        """
        cursor = self.raw.cursor()
        for _name, sql in self.indexes:
            cursor.execute(sql)
        self.indexes = []
        if self.dialect == "postgresql":
            cursor.execute("ANALYZE")
        self.raw.commit()
        if self.dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=ON")

    def flush(self) -> None:
        """Write every row gathered so far, then commit."""
        for table in MODELS:
            rows = self.rows[table]
            if rows:
                self._write(table, rows)
                self.written[table] += len(rows)
                self.rows[table] = []
        self.raw.commit()

    def _columns(self, table: str, rows: list[dict]) -> list[tuple[str, object, Callable | None]]:
        """The columns to write: every column of the table but those left to a server default and not named."""
        named = set().union(*(row.keys() for row in rows))
        unknown = named - {name for name, _f, _c in self._plan[table]}
        if unknown:
            raise RuntimeError(f"bulk demo: {table} has no columns {sorted(unknown)}")
        return [entry for entry in self._plan[table] if entry[1] is not _MISSING or entry[0] in named]

    def _write(self, table: str, rows: list[dict]) -> None:
        plan = self._columns(table, rows)
        values = []
        for row in rows:
            out = []
            for name, filler, convert in plan:
                value = row.get(name, _MISSING)
                if value is _MISSING:
                    if filler is _MISSING:
                        raise RuntimeError(f"bulk demo: some {table} rows write {name} and others leave it out")
                    value = filler()
                if value is not None and convert is not None:
                    value = convert(value)
                out.append(value)
            values.append(out)
        columns = ", ".join(name for name, _f, _c in plan)
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _entry in plan)
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)  # noqa: S608
            return
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
