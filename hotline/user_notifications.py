"""In-app notifications: a line in a staff member's notification list (the bell), written in the caller's
transaction. Texts to phones are another thing: the SMS outbox, :mod:`hotline.notify`.

A caller's text on an owned ticket is written by the SMS webhook itself, as one plain INSERT in its own
transaction (``hotline.intake.service``), with the kind ``CALLER_REPLIED``.
"""

from datetime import datetime

from sqlalchemy import func, select, update

from hotline.extensions import db
from models.notification import Notification

#: A caller texted again on a ticket: it shows as unread ("新回复") on the owner's desk until they open it.
CALLER_REPLIED = "caller_replied"


def notification_row(user_id: int, kind: str, now: datetime, *, ticket_id: int | None = None, **payload) -> dict:
    """The values of one notification row: ``notify`` (the ORM) and the SMS webhook's INSERT build them here."""
    return {"user_id": user_id, "ticket_id": ticket_id, "kind": kind, "payload": payload, "created_at": now}


#: The columns a notification row has values for (the rest: the id, and ``read_at`` empty until read).
NOTIFICATION_COLUMNS = tuple(notification_row(0, "", None))


def notify(user_id: int | None, kind: str, *, now: datetime, ticket_id: int | None = None, **payload) -> None:
    """Tell ``user_id`` about something (no-op without a user, e.g. an unowned ticket)."""
    if user_id is None:
        return
    db.session.add(Notification(**notification_row(user_id, kind, now, ticket_id=ticket_id, **payload)))


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def mark_all_read(user_id: int, *, now: datetime) -> None:
    """The user saw their notification list. A caller's reply stays unread until its ticket is opened."""
    db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            Notification.kind != CALLER_REPLIED,
        )
        .values(read_at=now)
    )


def unread_replies(user_id: int, ticket_ids: list[int]) -> set[int]:
    """Which of ``ticket_ids`` have a caller's reply that ``user_id`` has not seen yet."""
    if not ticket_ids:
        return set()
    return set(
        db.session.scalars(
            select(Notification.ticket_id)
            .distinct()
            .where(
                Notification.user_id == user_id,
                Notification.read_at.is_(None),
                Notification.kind == CALLER_REPLIED,
                Notification.ticket_id.in_(ticket_ids),
            )
        )
    )


def mark_replies_read(user_id: int, ticket_id: int, *, now: datetime) -> int:
    """``user_id`` opened the ticket: its callers' replies are seen. Returns how many were unread."""
    return db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            Notification.kind == CALLER_REPLIED,
            Notification.ticket_id == ticket_id,
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
