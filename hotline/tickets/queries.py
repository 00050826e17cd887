"""Read side of the desk: the queue with its filters, search and ordering."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, or_, select
from sqlalchemy.orm import joinedload

from hotline.access import ticket_condition
from hotline.extensions import db
from hotline.privacy import normalize_phone
from models.contact import Contact
from models.ticket import OPEN_STATUSES, URGENT_PRIORITIES, Ticket
from models.user import User

SCOPES = ("mine", "new", "open", "all")
#: Unclaimed work (status ``new``): by priority -- an SMS ticket's is its triaged one -- P0 first, then the
#: oldest. The codes sort as they rank, so the (status, priority, created_at) index gives this order as it is.
UNCLAIMED_ORDER = (Ticket.priority, Ticket.created_at, Ticket.id)


@dataclass
class QueueFilters:
    scope: str = "mine"
    status: str | None = None
    priority: str | None = None
    channel: str | None = None
    q: str | None = None


def queue_select(actor: User, filters: QueueFilters, *, now: datetime):
    """The queue as one SELECT: overdue first, then P0, then P1, then newest.

    ``mine`` is the actor's open tickets, ``new`` the unclaimed ones (ordered
    like the desk's waiting list: most urgent, then oldest), ``open``
    everything not closed, ``all`` everything including closed and merged;
    each only among the tickets ``actor`` may see (:func:`hotline.access.ticket_condition`).
    """
    stmt = select(Ticket).outerjoin(Contact, Ticket.contact_id == Contact.id).where(ticket_condition(actor))
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
    stmt = stmt.options(joinedload(Ticket.contact), joinedload(Ticket.first_contact_owner))
    if filters.scope == "new":
        return stmt.order_by(*UNCLAIMED_ORDER)
    overdue = case((Ticket.next_deadline_at < now, 0), else_=1)
    urgent = case((Ticket.priority == "P0", 0), (Ticket.priority == "P1", 1), else_=2)
    return stmt.order_by(overdue, urgent, Ticket.created_at.desc(), Ticket.id.desc())


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
    """Tickets that arrived without an owner (SMS, missed calls): the most urgent first, then the oldest."""
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.status == "new")
            .options(joinedload(Ticket.contact))
            .order_by(*UNCLAIMED_ORDER)
            .limit(limit)
        )
    )


def urgent_alerts(limit: int = 20) -> list[Ticket]:
    """Texts triaged P0/P1 that nobody has acted on yet: the alert banner on every operator's desk.

    An unclaimed ticket stays in it until an operator takes it; an owned
    ticket whose caller later wrote something more urgent than its priority
    stays until the suggestion is reviewed (confirmed or corrected). Most
    urgent first, then the oldest.
    """
    raised = and_(
        Ticket.triage_verdict.is_(None),
        Ticket.triage_priority < Ticket.priority,  # the codes sort as they rank: P0 < P1 < P2 < P3
    )
    return list(
        db.session.scalars(
            select(Ticket)
            # Open (``new`` is open) with an urgent triage: the rows of the partial index
            # ix_ticket_urgent_triage, whose condition these two terms repeat word for word, values
            # written in the SQL (SQLite reads a partial index only then; with bound values it walks
            # every open ticket); then unclaimed, or raised above its priority.
            .where(
                Ticket.status.in_(_written("open_statuses", OPEN_STATUSES)),
                Ticket.triage_priority.in_(_written("urgent_priorities", URGENT_PRIORITIES)),
                or_(Ticket.status == "new", raised),
            )
            .order_by(Ticket.triage_priority, Ticket.created_at, Ticket.id)
            .limit(limit)
        )
    )


def _written(name: str, values: tuple[str, ...]):
    """``values`` for an IN list, rendered into the statement as literals rather than bound."""
    return bindparam(name, values, expanding=True, literal_execute=True)
