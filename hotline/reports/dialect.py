"""Every SQL difference between PostgreSQL and SQLite that the reports need, in one place.

- durations in seconds between two stored instants;
- the local day, week or month an instant falls in: PostgreSQL converts with the
  zone's name, SQLite shifts UTC by the zone's offset (one offset all year,
  checked at start by hotline.timeutil), so both count the same days;
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from flask import current_app
from sqlalchemy import Float, case, func, literal, null, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from hotline.extensions import db
from hotline.timeutil import LOCAL_TZ, LOCAL_UTC_OFFSET

T = TypeVar("T")

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
        # date_part gives a float; EXTRACT gives a numeric (PostgreSQL 14+), slower to compute and to cast.
        return func.date_part("epoch", later - earlier, type_=Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def local_bucket(instant, grain: str = "day") -> ColumnElement:
    """The first local date (``YYYY-MM-DD`` text) of the day, week (Monday) or month of ``instant``."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    if name() == "postgresql":
        local = func.timezone(LOCAL_TZ.key, instant)
        return func.to_char(func.date_trunc(grain, local), "YYYY-MM-DD")
    shift = f"{int(LOCAL_UTC_OFFSET.total_seconds()):+d} seconds"
    if grain == "day":
        return func.date(instant, shift)
    if grain == "week":
        # 'weekday 0' moves forward to the Sunday ending the week (or stays on it): six days back is Monday.
        return func.date(instant, shift, "weekday 0", "-6 days")
    return func.date(instant, shift, "start of month")


def run_concurrently(jobs: list[Callable[[], T]]) -> list[T]:
    """The results of independent read-only report queries, in order.

    On PostgreSQL they run at once, each in its own application context, so on its
    own session and connection (they read committed data, as every report page does):
    the server works on them side by side. SQLite, one file in this process, runs
    them in turn.
    """
    if name() != "postgresql" or len(jobs) < 2:
        return [job() for job in jobs]
    app = current_app._get_current_object()

    def run(job):
        with app.app_context():  # its own session, removed when the context ends
            return job()

    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="report") as pool:
        return list(pool.map(run, jobs))


def not_inlined(stmt):
    """``stmt``, which a query reads as a subquery, kept whole on PostgreSQL (``OFFSET 0``): its columns are
    computed once per row, where the planner would copy a column's expression (a correlated subquery,
    say) into every outer expression that reads it. SQLite reads it as it is."""
    return stmt.offset(0) if name() == "postgresql" else stmt


def computed_once(stmt, name_: str):
    """``stmt`` as something a statement reads from: on PostgreSQL a CTE computed once (the
    summary reads it for the groups and for the total); on SQLite, which reads it once, a subquery."""
    if name() == "postgresql":
        return stmt.cte(name_).prefix_with("MATERIALIZED")
    return stmt.subquery(name_)


def summarize(rows, *, grouped: bool, distinct_total: bool = False, items=None) -> tuple[dict, dict]:
    """Count, mean, p50/p90/p95 of ``dur`` and the clock states of ``st``, per group and in total.

    ``rows`` is a subquery with columns ``id`` (the item), ``g`` (its group, when
    ``grouped``), ``dur`` (seconds, NULL when not measured) and ``st`` (on_time,
    late, pending or NULL). ``distinct_total``: an item may sit in several groups
    (a ticket referred to two units) and counts once in the total; ``items``, when
    given, has one row per item (``id``, ``dur``, ``st``) and PostgreSQL totals it
    rather than de-duplicating the joined rows. Returns
    ({group: figures}, total figures); figures are ``n``, ``mean``, ``p50``,
    ``p90``, ``p95`` (None when nothing was measured) and the state counts.
    """
    return summarize_many(rows, [("dur", "st")], grouped=grouped, distinct_total=distinct_total, items=items)[0]


def summarize_many(
    rows, pairs: list[tuple[str, str]], *, grouped: bool, distinct_total: bool = False, items=None
) -> list[tuple[dict, dict]]:
    """:func:`summarize` of several measures of the same items in one pass: ``pairs`` names the
    (duration, state) columns of each in ``rows`` (and ``items``); one result per pair, in order.

    PostgreSQL computes everything in one statement with ``percentile_cont``.
    SQLite has no ordered-set aggregate, and its sorter makes window-function
    ranking slow at this volume; so SQL selects the rows (every filter and join
    stays in SQL) and the order statistics are picked from them here, with the
    same linear interpolation as ``percentile_cont``: exact, and the same numbers.
    """
    if name() == "postgresql":
        return _summarize_sql(rows, pairs, grouped=grouped, distinct_total=distinct_total, items=items)
    columns = [rows.c.id] + [rows.c[c] for pair in pairs for c in pair] + ([rows.c.g] if grouped else [])
    # Tuples straight from the DBAPI cursor: ints, floats and strings need no result processing,
    # and skipping SQLAlchemy's row objects halves the cost at forty thousand rows.
    result = db.session.connection().execute(select(*columns))
    found = result.cursor.fetchall()
    result.close()
    groups: dict[object, list] = defaultdict(list)
    if grouped:
        at = 1 + 2 * len(pairs)
        for row in found:
            groups[row[at]].append(row)
    if distinct_total:
        found = list({row[0]: row for row in found}.values())
    out = []
    for i in range(len(pairs)):
        dur, st = 1 + 2 * i, 2 + 2 * i
        out.append(({g: _summary(members, dur, st) for g, members in groups.items()}, _summary(found, dur, st)))
    return out


def _summary(rows, dur: int, st: int) -> dict:
    return _figures([row[dur] for row in rows if row[dur] is not None], Counter(row[st] for row in rows if row[st]))


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


def _summarize_sql(rows, pairs, *, grouped: bool, distinct_total: bool, items=None) -> list[tuple[dict, dict]]:
    """One statement: an aggregate per group and one over the total, side by side (UNION ALL), so that
    each ``percentile_cont`` sorts its own group's durations only."""

    def figures(source, tot: int, group):
        columns = [literal(tot).label("tot"), group.label("g")]
        for i, (dur, st) in enumerate(pairs):
            d, t = source.c[dur], source.c[st]
            columns += [func.count(d).label(f"n_{i}"), func.avg(d).label(f"mean_{i}")]
            columns += [func.percentile_cont(p).within_group(d).label(f"{_label(p)}_{i}") for p in PERCENTILES]
            columns += [func.sum(case((t == s, 1), else_=0)).label(f"{s}_{i}") for s in STATES]
        return select(*columns)

    if items is None:
        items = select(rows.c.id, *(rows.c[c] for pair in pairs for c in pair))
        items = (items.distinct() if distinct_total else items).subquery("t")
    parts = [figures(items, 1, null())]
    if grouped:
        parts.insert(0, figures(rows, 0, rows.c.g).group_by(rows.c.g))
    out = [({}, _figures([], Counter())) for _ in pairs]
    for row in db.session.execute(union_all(*parts)).mappings():
        for i in range(len(pairs)):
            found = {key: row[f"{key}_{i}"] for key in ("n", "mean", *(_label(p) for p in PERCENTILES))}
            found.update({s: int(row[f"{s}_{i}"] or 0) for s in STATES})
            if row["tot"]:
                out[i] = (out[i][0], found)
            else:
                out[i][0][row["g"]] = found
    return out


def _label(p: float) -> str:
    return f"p{round(p * 100)}"
