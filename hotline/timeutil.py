"""Time at the edges: the clock is read here and passed in as ``now`` everywhere else.

Everything is stored in UTC; people see the county's zone (``HOTLINE_TIMEZONE``, Asia/Shanghai by default).
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.settings import Config


def _local_zone(name: str) -> tuple[ZoneInfo, timedelta]:
    """The zone named ``name`` and its UTC offset, which must be the same all year.

    SQLite has no time zones: the reports count its local days by shifting UTC by this one offset
    (hotline.reports.dialect), and a zone with daylight saving time would count them differently
    from PostgreSQL. China has kept UTC+8 all year since 1991.
    """
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"HOTLINE_TIMEZONE: {name!r} is not a known time zone") from exc
    offsets = {datetime(2024, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if len(offsets) != 1:
        raise ValueError(f"HOTLINE_TIMEZONE: {name!r} changes its UTC offset during the year (daylight saving time)")
    return zone, offsets.pop()


LOCAL_TZ, LOCAL_UTC_OFFSET = _local_zone(Config.TIMEZONE)


def utcnow() -> datetime:
    """The current time, aware, in UTC. Only views, CLI commands and jobs call this."""
    return datetime.now(UTC)


def to_local(value: datetime) -> datetime:
    """``value`` in the local zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def local_date(value: datetime) -> date:
    """The local calendar date of ``value`` (ticket numbers use it)."""
    return to_local(value).date()


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601; a time without offset is taken as local time. Returns UTC."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)
