"""Checks every domain service makes on what it is given: free text, and the version a form was read at."""

from flask_babel import lazy_gettext as _l

from hotline import labels
from hotline.errors import DomainError, StaleError

#: The longest free text (a note, a reason, a description) a service accepts.
MAX_TEXT = 4000


def checked_text(value: str | None, message, *, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    """``value`` stripped; ``message`` when it is empty and ``required`` (else None); refused above ``limit``."""
    value = (value or "").strip()
    if not value:
        if required:
            raise DomainError(message)
        return None
    if len(value) > limit:
        raise DomainError(_l("The text is too long (at most %(n)s characters).", n=limit))
    return value


def check_version(obj, expected_version: int | None) -> None:
    """Refuse a change made from a page read before someone else's (``expected_version`` None: no check)."""
    if expected_version is not None and obj.version != expected_version:
        raise StaleError(labels.STALE)
