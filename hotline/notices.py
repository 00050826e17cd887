"""In-app notices: a line in someone's notification list, written in the caller's transaction."""

from datetime import datetime

from sqlalchemy import func, select, update

from hotline.extensions import db
from models.notification import Notification


def notify(user_id: int | None, kind: str, *, now: datetime, ticket_id: int | None = None, **payload) -> None:
    """Tell ``user_id`` about something (no-op without a user, e.g. an unowned ticket)."""
    if user_id is None:
        return
    db.session.add(Notification(user_id=user_id, ticket_id=ticket_id, kind=kind, payload=payload, created_at=now))


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def mark_all_read(user_id: int, *, now: datetime) -> None:
    db.session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=now)
    )
