"""Every SQL difference between PostgreSQL and SQLite that the reports need, in one place.

- durations in seconds between two stored instants;
- the Asia/Shanghai day, week or month an instant falls in (the county has no
  daylight saving time since 1991: local time is UTC + 8 hours);
- exact percentiles. PostgreSQL has ``percentile_cont``; SQLite has none, so the
  same linear interpolation is done with window functions: number the rows of
  each group in order (``ROW_NUMBER``), count them (``COUNT``), and for a
  fraction ``p`` take the rows at 0-based positions ``floor((n-1)p)`` and the
  one after, ``first + ((n-1)p - floor((n-1)p)) * (second - first)``, which
  is how PostgreSQL computes ``percentile_cont``. Both give the same numbers.

SQLite keeps our UTC timestamps as naive text ``YYYY-MM-DD HH:MM:SS.ffffff``,
which ``julianday`` reads; PostgreSQL keeps ``timestamptz``.
"""

from sqlalchemy import Float, Integer, case, cast, func, literal, select
from sqlalchemy.sql import ColumnElement

from hotline.extensions import db

#: Asia/Shanghai is UTC+8 all year.
LOCAL_OFFSET_HOURS = 8
#: The fractions every response-time table shows.
PERCENTILES = (0.5, 0.9, 0.95)
GRAINS = ("day", "week", "month")


def name() -> str:
    """``postgresql`` or ``sqlite``: the dialect of the current session."""
    return db.session.get_bind().dialect.name


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


def percentile_select(source, group_columns: list[str], value: str = "dur"):
    """One row per group of ``source`` (a subquery): the group columns, ``n``, ``mean`` and ``p50``/``p90``/``p95``.

    ``value`` names the column holding the figure (seconds); rows where it is
    NULL must be filtered out by the caller.
    """
    groups = [source.c[g] for g in group_columns]
    dur = source.c[value]
    if name() == "postgresql":
        return select(
            *groups,
            func.count().label("n"),
            func.avg(dur).label("mean"),
            *(func.percentile_cont(p).within_group(dur).label(_label(p)) for p in PERCENTILES),
        ).group_by(*groups)
    ranked = select(
        *groups,
        dur.label("dur"),
        func.row_number().over(partition_by=groups or None, order_by=dur).label("rn"),
        func.count().over(partition_by=groups or None).label("n"),
    ).subquery("ranked")
    rgroups = [ranked.c[g] for g in group_columns]
    picks = []
    for p in PERCENTILES:
        position = (ranked.c.n - 1) * literal(p, Float)
        lower = cast(position, Integer)  # positions are never negative: CAST truncates, which is floor
        first = func.max(case((ranked.c.rn == lower + 1, ranked.c.dur)))
        second = func.max(case((ranked.c.rn == lower + 2, ranked.c.dur)))
        fraction = func.max(position - lower)
        picks.append((first + fraction * (func.coalesce(second, first) - first)).label(_label(p)))
    return select(
        *rgroups,
        func.max(ranked.c.n).label("n"),
        func.avg(ranked.c.dur).label("mean"),
        *picks,
    ).group_by(*rgroups)


def _label(p: float) -> str:
    return f"p{round(p * 100)}"
