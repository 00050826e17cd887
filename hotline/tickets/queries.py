"""Read side of the desk: the queue with its filters, search and ordering."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, or_, select
from sqlalchemy.orm import joinedload

from hotline.extensions import db
from hotline.privacy import normalize_phone
from models.contact import Contact
from models.ticket import OPEN_STATUSES, Ticket
from models.user import User

SCOPES = ("mine", "new", "open", "all")


@dataclass
class QueueFilters:
    scope: str = "mine"
    status: str | None = None
    priority: str | None = None
    channel: str | None = None
    q: str | None = None


def queue_select(actor: User, filters: QueueFilters, *, now: datetime):
    """The queue as one SELECT: overdue first, then P0, then P1, then newest.

    ``mine`` is the actor's open tickets, ``new`` the unclaimed ones, ``open``
    everything not closed, ``all`` everything including closed and merged.
    """
    stmt = select(Ticket).outerjoin(Contact, Ticket.contact_id == Contact.id)
    if filters.scope == "mine":
        stmt = stmt.where(Ticket.first_contact_owner_id == actor.id, Ticket.status.in_(OPEN_STATUSES))
    elif filters.scope == "new":
        stmt = stmt.where(Ticket.status == "new")
    elif filters.scope == "open":
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
    if filters.status:
        stmt = stmt.where(Ticket.status == filters.status)
    if filters.priority:
        stmt = stmt.where(Ticket.priority == filters.priority)
    if filters.channel:
        stmt = stmt.where(Ticket.channel == filters.channel)
    if filters.q:
        stmt = stmt.where(search_clause(filters.q))
    overdue = case((Ticket.next_deadline_at < now, 0), else_=1)
    urgent = case((Ticket.priority == "P0", 0), (Ticket.priority == "P1", 1), else_=2)
    return stmt.options(joinedload(Ticket.contact), joinedload(Ticket.first_contact_owner)).order_by(
        overdue, urgent, Ticket.created_at.desc(), Ticket.id.desc()
    )


def search_clause(q: str):
    """Match a ticket number, a phone number (whole or its last digits) or a caller name."""
    q = q.strip()
    digits = "".join(ch for ch in q if ch.isdigit())
    clauses = [Ticket.number == q, Contact.name.contains(q, autoescape=True)]
    if digits and len(digits) >= 4 and len(digits) == len(q.replace(" ", "").lstrip("+")):
        e164 = normalize_phone(q)
        if e164:
            clauses.append(Contact.phone == e164)
        clauses.append(Contact.phone.endswith(digits, autoescape=True))
        clauses.append(Contact.phone_raw.contains(digits, autoescape=True))
        if len(digits) <= 12:
            clauses.append(Ticket.number.startswith(digits, autoescape=True))
    return or_(*clauses)


def unclaimed(limit: int = 10) -> list[Ticket]:
    """Tickets that arrived without an owner (SMS, missed calls), oldest first: they wait longest."""
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.status == "new")
            .options(joinedload(Ticket.contact))
            .order_by(Ticket.created_at)
            .limit(limit)
        )
    )
