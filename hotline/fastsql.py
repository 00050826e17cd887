"""Core statements run on the driver's own cursor: the SMS webhook's path below SQLAlchemy's execution layer.

A statement is built with SQLAlchemy from the models' ``Table`` objects and
compiled once per dialect (:class:`Prepared`); running it then costs only the
driver's work. What the execution layer would have done for it is done here
from the same compiled statement, so a row is stored exactly as through the
ORM or Core:

- every bound value, None included, goes through its type's bind processor for
  the dialect (JSON to text, datetimes as SQLite stores them, booleans...);
- an INSERT's Python-side column defaults (scalar or callable) are filled for
  the columns the caller leaves out, as SQLAlchemy's "prefetch" does; server
  defaults are the database's own (the column is left out of the statement);
- constants in the statement (``IN (...)`` lists, ``LIMIT``) are bound as
  compiled, and PostgreSQL's bind casts are in the compiled text.

A column default that is an SQL expression is rendered into the statement by
the compiler and computed by the database. Any other kind of default the
compiler leaves to the execution layer makes building the statement raise, so
a new column of that kind fails the first test that sends a text rather than
storing NULL.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import symbol

#: SQLAlchemy's marker for a bound parameter that has no value until execution.
_REQUIRED = symbol("REQUIRED")


class _DefaultContext:
    """What a context-sensitive column default reads: the row's other values (``get_current_parameters``)."""

    def __init__(self, values: dict):
        self.values = values

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict:
        return self.values


class Prepared:
    """One statement compiled for one dialect, with its parameters' conversions."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, *, columns: tuple[str, ...] | None = None):
        """``columns``: for an INSERT, the keys the caller supplies (the other columns get their defaults)."""
        compiled = statement.compile(
            dialect=dialect,
            column_keys=list(columns) if columns is not None else None,
            compile_kwargs={"render_postcompile": True},
        )
        self.sql = compiled.string
        self.positional = dialect.paramstyle in ("qmark", "numeric", "format")
        binds = compiled.binds
        processors = {name: _processor(bind, dialect) for name, bind in binds.items()}
        # An INSERT's columns left out that have a Python-side default: filled on every run.
        self.defaults = {}
        for column in getattr(compiled, "insert_prefetch", ()):
            default = column.default
            if default is None or not (default.is_scalar or default.is_callable):
                raise TypeError(f"{column}: a default the fast path cannot compute before the INSERT")
            self.defaults[column.key] = default
        compiled_values = compiled.construct_params(_check=False)
        names = compiled.positiontup if self.positional else tuple(compiled_values)
        # One slot per parameter, in the driver's order: its name, the statement's own constant (an IN list's
        # value, a LIMIT; converted once) or None, its default, its conversion. An expanded IN list's binds are
        # named after the list's bind: status_1 -> status_1_1, status_1_2...
        self.slots = []
        for name in names:
            parent = name if name in binds else name.rpartition("_")[0]
            bind, processor = binds[parent], processors[parent]
            value = compiled_values.get(name, _REQUIRED)
            constant = None
            if value is not _REQUIRED and name not in self.defaults:
                constant = value if processor is None else processor(value)
            convert = _shared(bind, dialect) if processor else None
            self.slots.append((name, constant, self.defaults.get(name), convert))

    def params(self, values: dict) -> tuple | dict:
        """The driver's parameters for ``values`` (keyed by bind name), defaults filled and converted."""
        out = []
        for name, constant, default, convert in self.slots:
            value = values.get(name)
            if value is None:
                if constant is not None:
                    out.append(constant)
                    continue
                if default is not None:
                    value = default.arg if default.is_scalar else default.arg(_DefaultContext(values))
            out.append(value if convert is None else convert(value))
        if self.positional:
            return tuple(out)
        return {slot[0]: value for slot, value in zip(self.slots, out, strict=True)}

    def execute(self, cursor, values: dict | None = None):
        """Run the statement on a DB-API ``cursor`` with ``values``; returns the cursor."""
        cursor.execute(self.sql, self.params(values or {}))
        return cursor


class _Last:
    """A bind processor that remembers its last conversion of an immutable value: a request's ``now`` goes into
    several rows (the event's ``at``, the message's ``started_at``) and is converted once."""

    __slots__ = ("last", "processor")

    def __init__(self, processor):
        self.processor = processor
        self.last = (None, None)  # (value, its conversion): replaced as one, so threads never see half of it

    def __call__(self, value):
        last = self.last
        if value is not None and value is last[0]:
            return last[1]
        converted = self.processor(value)
        if isinstance(value, _IMMUTABLE):
            self.last = (value, converted)
        return converted


_IMMUTABLE = (datetime, date, str, int, float, Decimal)


_SHARED: dict[tuple[str, str], _Last] = {}


def _shared(bind, dialect: Dialect) -> _Last:
    """The remembering processor of a parameter's type, one for every parameter of that type (by its repr, e.g.
    ``UTCDateTime()``): so the request's ``now`` is converted once for all its statements."""
    key = (dialect.name, repr(bind.type))
    return _SHARED.get(key) or _SHARED.setdefault(key, _Last(_processor(bind, dialect)))


def _processor(bind, dialect: Dialect):
    """The bind processor of a parameter's type for ``dialect``, or None when the driver takes the value as is."""
    return bind.type.dialect_impl(dialect).bind_processor(dialect)


class PerDialect:
    """A :class:`Prepared` statement for each dialect it meets, built on first use."""

    def __init__(self, build, *, columns: tuple[str, ...] | None = None):
        """``build(dialect_name)``: the statement for that dialect (an INSERT's ON CONFLICT is per dialect)."""
        self.build = build
        self.columns = columns
        self.prepared: dict[str, Prepared] = {}

    def __call__(self, dialect: Dialect) -> Prepared:
        prepared = self.prepared.get(dialect.name)
        if prepared is None:
            prepared = self.prepared.setdefault(
                dialect.name, Prepared(self.build(dialect.name), dialect, columns=self.columns)
            )
        return prepared
