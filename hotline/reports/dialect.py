"""Every SQL difference between PostgreSQL and SQLite that the reports need, in one place.

- durations in seconds between two stored instants;
- the Asia/Shanghai day, week or month an instant falls in (the county has no
  daylight saving time since 1991: local time is UTC + 8 hours);
- exact percentiles (:func:`summarize`). PostgreSQL has ``percentile_cont``;
  SQLite has none, so its rows are selected in SQL and the order statistics
  picked from them with the same linear interpolation: for a fraction ``p`` of
  ``n`` sorted values, the values at 0-based positions ``floor((n-1)p)`` and
  ``ceil((n-1)p)``, ``first + (second - first) * ((n-1)p - floor((n-1)p))``.
  Both give the same numbers.

SQLite keeps our UTC timestamps as naive text ``YYYY-MM-DD HH:MM:SS.ffffff``,
which ``julianday`` reads; PostgreSQL keeps ``timestamptz``.
"""

import math
from collections import Counter, defaultdict

from sqlalchemy import Float, case, cast, func, literal, null, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from hotline.extensions import db

#: Asia/Shanghai is UTC+8 all year.
LOCAL_OFFSET_HOURS = 8
#: The fractions every response-time table shows.
PERCENTILES = (0.5, 0.9, 0.95)
#: What a clock can be as of ``now`` (see hotline.reports.service).
STATES = ("on_time", "late", "pending")
GRAINS = ("day", "week", "month")


def name() -> str:
    """``postgresql`` or ``sqlite``: the dialect of the current session."""
    return db.session.get_bind().dialect.name


class _NotIndexed(ColumnElement):
    """A column that SQLite must not use as a way into an index (see :func:`not_indexed`)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(_NotIndexed)
def _compile_not_indexed(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(_NotIndexed, "sqlite")
def _compile_not_indexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.column, **kw)


def not_indexed(column) -> ColumnElement:
    """``column`` for a condition SQLite must not drive a query with (its unary ``+``; nothing on PostgreSQL).

    The application's SQLite database has no statistics (nothing runs ANALYZE), so the planner
    takes any indexed equality as selective: ``ticket_event.kind IN (...)`` would walk millions
    of events by kind instead of a month's tickets' events by ticket.
    """
    return _NotIndexed(column)


def seconds_between(later, earlier) -> ColumnElement:
    """``later - earlier`` in seconds, as a float (NULL when either is NULL)."""
    if name() == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def local_bucket(instant, grain: str = "day") -> ColumnElement:
    """The first local date (``YYYY-MM-DD`` text) of the day, week (Monday) or month of ``instant``."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    if name() == "postgresql":
        local = func.timezone("Asia/Shanghai", instant)
        return func.to_char(func.date_trunc(grain, local), "YYYY-MM-DD")
    shift = f"+{LOCAL_OFFSET_HOURS} hours"
    if grain == "day":
        return func.date(instant, shift)
    if grain == "week":
        # 'weekday 0' moves forward to the Sunday ending the week (or stays on it): six days back is Monday.
        return func.date(instant, shift, "weekday 0", "-6 days")
    return func.date(instant, shift, "start of month")


def computed_once(stmt, name_: str):
    """``stmt`` as something a statement reads from: on PostgreSQL a CTE computed once (the
    summary reads it for the groups and for the total); on SQLite, which reads it once, a subquery."""
    if name() == "postgresql":
        return stmt.cte(name_).prefix_with("MATERIALIZED")
    return stmt.subquery(name_)


def summarize(rows, *, grouped: bool, distinct_total: bool = False) -> tuple[dict, dict]:
    """Count, mean, p50/p90/p95 of ``dur`` and the clock states of ``st``, per group and in total.

    ``rows`` is a subquery with columns ``id`` (the item), ``g`` (its group, when
    ``grouped``), ``dur`` (seconds, NULL when not measured) and ``st`` (on_time,
    late, pending or NULL). ``distinct_total``: an item may sit in several groups
    (a ticket referred to two units) and counts once in the total. Returns
    ({group: figures}, total figures); figures are ``n``, ``mean``, ``p50``,
    ``p90``, ``p95`` (None when nothing was measured) and the state counts.

    PostgreSQL computes everything in one statement with ``percentile_cont``.
    SQLite has no ordered-set aggregate, and its sorter makes window-function
    ranking slow at this volume; so SQL selects the rows (every filter and join
    stays in SQL) and the order statistics are picked from them here, with the
    same linear interpolation as ``percentile_cont``: exact, and the same numbers.
    """
    if name() == "postgresql":
        return _summarize_sql(rows, grouped=grouped, distinct_total=distinct_total)
    columns = [rows.c.id, rows.c.dur, rows.c.st] + ([rows.c.g] if grouped else [])
    # Tuples straight from the DBAPI cursor: ints, floats and strings need no result processing,
    # and skipping SQLAlchemy's row objects halves the cost at forty thousand rows.
    result = db.session.connection().execute(select(*columns))
    found = result.cursor.fetchall()
    result.close()
    groups: dict[object, list] = defaultdict(list)
    if grouped:
        for row in found:
            groups[row[3]].append(row)
    if distinct_total:
        found = list({row[0]: row for row in found}.values())
    return {g: _summary(items) for g, items in groups.items()}, _summary(found)


def _summary(rows) -> dict:
    return _figures(
        [row[1] for row in rows if row[1] is not None], Counter(row[2] for row in rows if row[2] is not None)
    )


def _figures(durations: list[float], states: Counter) -> dict:
    durations.sort()
    n = len(durations)
    out = {"n": n, "mean": math.fsum(durations) / n if n else None}
    for p in PERCENTILES:
        out[_label(p)] = percentile_cont(durations, p) if n else None
    out.update({s: states.get(s, 0) for s in STATES})
    return out


def percentile_cont(ordered: list[float], p: float) -> float:
    """PostgreSQL's ``percentile_cont(p)`` of a sorted non-empty list: linear interpolation between the
    rows at 0-based positions floor((n-1)p) and ceil((n-1)p), computed as PostgreSQL computes it."""
    position = p * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    first, second = ordered[lower], ordered[upper]
    return first + (second - first) * (position - lower)


def _summarize_sql(rows, *, grouped: bool, distinct_total: bool) -> tuple[dict, dict]:
    total_rows = select(rows.c.id, rows.c.dur, rows.c.st)
    if distinct_total:
        total_rows = total_rows.distinct()
    total_rows = total_rows.subquery("t")
    parts = [select(literal(1).label("tot"), null().label("g"), total_rows.c.dur, total_rows.c.st)]
    if grouped:
        parts.insert(0, select(literal(0).label("tot"), rows.c.g, rows.c.dur, rows.c.st))
    v = union_all(*parts).subquery("v") if grouped else parts[0].subquery("v")
    stmt = select(
        v.c.tot,
        v.c.g,
        func.count(v.c.dur).label("n"),
        func.avg(v.c.dur).label("mean"),
        *(func.percentile_cont(p).within_group(v.c.dur).label(_label(p)) for p in PERCENTILES),
        *(func.sum(case((v.c.st == s, 1), else_=0)).label(s) for s in STATES),
    ).group_by(v.c.tot, v.c.g)
    groups, total = {}, _figures([], Counter())
    for row in db.session.execute(stmt).mappings():
        figures = {key: row[key] for key in ("n", "mean", *(_label(p) for p in PERCENTILES))}
        figures.update({s: int(row[s] or 0) for s in STATES})
        if row["tot"]:
            total = figures
        else:
            groups[row["g"]] = figures
    return groups, total


def _label(p: float) -> str:
    return f"p{round(p * 100)}"
