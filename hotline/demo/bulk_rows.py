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
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

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


@dataclass
class _Plan:
    """How the rows of one table become the values of its INSERT / COPY."""

    #: Every column, in the table's order.
    names: list[str]
    #: What a row that does not name a column gets, when that is a constant: its scalar default,
    #: 1 for the mapper's version column, NULL for a nullable column without a default.
    constants: dict[str, object]
    #: Columns whose default is a Python callable (``dict`` for a JSON payload): called once per row.
    callables: list[tuple[str, Callable[[], object]]]
    #: Columns with only a server default: left out of the statement unless the rows name them.
    server: set[str]
    #: Columns that are NOT NULL with no default: a row must name them.
    required: set[str]


def _plan(model) -> _Plan:
    plan = _Plan(names=[], constants={}, callables=[], server=set(), required=set())
    for column in model.__table__.c:
        plan.names.append(column.name)
        default = column.default
        if column is model.__mapper__.version_id_col:
            plan.constants[column.name] = 1  # the ORM's first version
        elif default is not None and default.is_scalar:
            plan.constants[column.name] = default.arg
        elif default is not None and default.is_callable:
            # SQLAlchemy wraps a zero-argument callable to take an execution context.
            plan.callables.append((column.name, partial(default.arg, None)))
        elif default is not None:
            raise RuntimeError(f"bulk demo: {column} has a SQL default the bulk writer cannot evaluate; write it")
        elif column.server_default is not None:
            plan.server.add(column.name)
        elif column.nullable and not column.primary_key:
            plan.constants[column.name] = None
        else:
            plan.required.add(column.name)
    return plan


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
        self._plans = {name: _plan(model) for name, model in MODELS.items()}
        #: table -> column name -> how its value is stored (None: as it is).
        self._converters = {
            name: {column.name: self._converter(column.type) for column in model.__table__.c}
            for name, model in MODELS.items()
        }
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

    def _write(self, table: str, rows: list[dict]) -> None:
        plan = self._plans[table]
        # A column left to its server default is written only if these rows name it (none does today).
        names = [n for n in plan.names if n not in plan.server or any(n in row for row in rows)]
        constants = {n: value for n, value in plan.constants.items() if n in names}
        converters = [(i, self._converters[table][n]) for i, n in enumerate(names) if self._converters[table][n]]
        values = []
        for row in rows:
            full = constants | row
            for name, make in plan.callables:
                if name not in row:
                    full[name] = make()
            if len(full) != len(names):
                self._refuse(table, plan, names, row)
            try:
                out = [full[n] for n in names]
            except KeyError:
                self._refuse(table, plan, names, row)
            for i, convert in converters:
                if out[i] is not None:
                    out[i] = convert(out[i])
            values.append(out)
        columns = ", ".join(names)
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _name in names)
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)  # noqa: S608
            return
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)

    @staticmethod
    def _refuse(table: str, plan: _Plan, names: list[str], row: dict) -> None:
        unknown = sorted(set(row) - set(plan.names))
        if unknown:
            raise RuntimeError(f"bulk demo: {table} has no columns {unknown}")
        missing = sorted(plan.required - set(row))
        if missing:
            raise RuntimeError(
                f"bulk demo: {table} columns {missing} are NOT NULL with no default and were not written"
            )
        raise RuntimeError(f"bulk demo: some {table} rows write {sorted(set(names) - set(row))} and others do not")
