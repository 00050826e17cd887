"""Formatting helpers shared by templates and JSON views."""

from datetime import UTC

from flask_babel import format_datetime, get_timezone

#: Patterns made of numbers only need no locale data: they are shown with ``strftime``, which
#: is many times cheaper than Babel's pattern formatter (a queue page shows a time per row).
NUMERIC_PATTERNS = {
    "yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M",
    "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S",
    "yyyy-MM-dd": "%Y-%m-%d",
    "MM-dd HH:mm": "%m-%d %H:%M",
    "HH:mm": "%H:%M",
}


def localtime(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time shown in Asia/Shanghai (the Babel timezone); a naive value is taken as UTC."""
    if value is None:
        return ""
    numeric = NUMERIC_PATTERNS.get(fmt)
    if numeric is None:
        return format_datetime(value, fmt)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(get_timezone()).strftime(numeric)


def time_left(deadline, now) -> str:
    """ "2h 15m left" / "overdue 3h 5m" for a deadline, in the UI language."""
    from flask_babel import gettext as _

    if deadline is None:
        return ""
    seconds = int((deadline - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = _("%(d)sd %(h)sh", d=days, h=hours)
    elif hours:
        text = _("%(h)sh %(m)sm", h=hours, m=minutes)
    else:
        text = _("%(m)sm", m=minutes)
    return _("%(t)s left", t=text) if seconds >= 0 else _("overdue %(t)s", t=text)


def iso_localtime(text: str | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """An ISO 8601 instant kept in an event payload, shown like any other time."""
    from datetime import datetime

    if not text:
        return ""
    return localtime(datetime.fromisoformat(text), fmt)


def format_yuan(fen: int | None) -> str:
    """Fen shown as money: ``¥1,234.50``. A whole number of fen from a database SUM may come as a ``Decimal``
    (PostgreSQL sums a bigint column as numeric): it is shown the same."""
    if fen is None:
        return ""
    fen = int(fen)
    yuan, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}¥{yuan:,}.{cents:02d}"
