"""Formatting helpers shared by templates and JSON views."""

from flask_babel import format_datetime


def localtime(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time shown in Asia/Shanghai (the Babel timezone)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)
