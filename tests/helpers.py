"""Small builders and readers shared by the test modules (fixtures live in ``conftest.py``)."""

import re
from datetime import datetime

from sqlalchemy import func, select

from hotline.extensions import db
from hotline.tickets import service
from models.audit import AuditLog
from models.ticket import Ticket, TicketEvent
from models.user import User

PHONE = "13812341234"
PHONE_E164 = "+8613812341234"
TICKET_NUMBER_RE = re.compile(r"^\d{8}\d{4}$")


def log_call(actor: User, now: datetime, **overrides) -> Ticket:
    """An operator logs an ordinary P1 call; committed, as the view would."""
    values = {
        "phone": PHONE,
        "caller_name": "王秀英",
        "category": "illness_hardship",
        "priority": "P1",
        "summary": "父亲突发脑溢血住院，拿不出押金",
    }
    ticket = service.log_call(actor=actor, now=now, **(values | overrides))
    db.session.commit()
    return ticket


def unclaimed(now: datetime, phone: str | None = PHONE, **overrides) -> Ticket:
    """A text message that arrived with nobody on it (status ``new``); committed."""
    ticket = service.open_unclaimed_ticket(
        now=now, channel=overrides.pop("channel", "sms"), phone=phone, summary="请帮帮我", **overrides
    )
    db.session.commit()
    return ticket


def events(ticket: Ticket, kind: str | None = None) -> list[TicketEvent]:
    """The ticket's events as stored, oldest first."""
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    if kind:
        stmt = stmt.where(TicketEvent.kind == kind)
    return list(db.session.scalars(stmt))


def event_kinds(ticket: Ticket) -> list[str]:
    return [e.kind for e in events(ticket)]


def timeline(ticket: Ticket) -> list:
    """The ticket's timeline as its page shows it (events and the caller's follow-up texts), oldest first."""
    from hotline.tickets.page import timeline as page_timeline

    return list(reversed(page_timeline(ticket)))


def timeline_kinds(ticket: Ticket) -> list[str]:
    return [entry.kind for entry in timeline(ticket)]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_kinds(target: str | None = None) -> list[str]:
    """Kinds of the audit entries (for ``target`` if given), oldest first."""
    stmt = select(AuditLog.kind).order_by(AuditLog.id)
    if target is not None:
        stmt = stmt.where(AuditLog.target == target)
    return list(db.session.scalars(stmt))


def reload(obj):
    """``obj`` as the database has it now (requests and other sessions may have changed it)."""
    db.session.refresh(obj)
    return obj
