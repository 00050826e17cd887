"""Time at the edges: the clock is read here and passed in as ``now`` everywhere else.

Everything is stored in UTC; people see Asia/Shanghai.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, aware, in UTC. Only views, CLI commands and jobs call this."""
    return datetime.now(UTC)


def to_local(value: datetime) -> datetime:
    """``value`` in Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def local_date(value: datetime) -> date:
    """The Asia/Shanghai calendar date of ``value`` (ticket numbers use it)."""
    return to_local(value).date()


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601; a time without offset is taken as Asia/Shanghai. Returns UTC."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)
