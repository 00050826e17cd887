"""Clock and escalation actions people take: pause and resume (P2/P3), supervise by hand (督办)."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import labels
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import clocks
from hotline.escalation.sweep import _higher
from hotline.extensions import db
from hotline.notices import notify
from hotline.tickets.service import add_event
from models.escalation import EscalationStep
from models.ticket import OPEN_STATUSES, Ticket
from models.user import User


def _reason(text: str | None, message) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(message)
    if len(text) > 500:
        raise DomainError(_l("The text is too long (at most %(n)s characters).", n=500))
    return text


def _owner_or_manager(ticket: Ticket, actor: User) -> None:
    if actor.role != "manager" and not (actor.role == "operator" and ticket.first_contact_owner_id == actor.id):
        raise NotAllowed(_l("Only the first-contact owner of this ticket or a manager can do this."))


def _version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and ticket.version != expected:
        raise StaleError(labels.STALE)


def pause_clocks(ticket: Ticket, *, actor: User, now: datetime, reason: str, expected_version: int | None = None):
    """Pause a P2/P3 ticket's clocks while waiting for the caller (材料未补齐, 联系不上...), with a reason."""
    _owner_or_manager(ticket, actor)
    reason = _reason(reason, _l("Say what the ticket is waiting for."))
    _version(ticket, expected_version)
    clocks.pause(ticket, now=now, reason=reason)
    ticket.updated_at = now
    add_event(ticket, actor, "clocks_paused", now, reason=reason)


def resume_clocks(ticket: Ticket, *, actor: User, now: datetime, expected_version: int | None = None) -> None:
    """Restart paused clocks; their deadlines move on by the working time spent paused."""
    _owner_or_manager(ticket, actor)
    _version(ticket, expected_version)
    hours = clocks.resume(ticket, now=now)
    ticket.updated_at = now
    add_event(ticket, actor, "clocks_resumed", now, paused_working_hours=round(hours, 2))


def supervise(ticket: Ticket, *, actor: User, now: datetime, reason: str, expected_version: int | None = None) -> None:
    """督办 by hand: a manager takes a case up before (or regardless of) the ladder; flagged red."""
    if actor.role != "manager":
        raise NotAllowed(_l("Only a manager can supervise a case."))
    if ticket.status not in OPEN_STATUSES:
        raise DomainError(_l("Only an open ticket can be supervised."))
    reason = _reason(reason, _l("Say why the case is supervised."))
    _version(ticket, expected_version)
    exists = db.session.scalar(
        select(EscalationStep.id).where(
            EscalationStep.ticket_id == ticket.id,
            EscalationStep.referral_key == 0,
            EscalationStep.clock == "manual",
            EscalationStep.level == "supervise",
        )
    )
    if exists:
        raise DomainError(_l("A manager already supervises this case."))
    db.session.add(
        EscalationStep(
            ticket_id=ticket.id,
            referral_key=0,
            clock="manual",
            level="supervise",
            due_at=now,
            written_at=now,
            actor_id=actor.id,
            payload={"reason": reason},
        )
    )
    ticket.escalation_level = _higher(ticket.escalation_level, "supervise")
    ticket.updated_at = now
    add_event(ticket, actor, "supervised", now, reason=reason)
    notify(ticket.first_contact_owner_id, "supervised", now=now, ticket_id=ticket.id, reason=reason)
    for referral in ticket.referrals:
        if referral.is_active:
            for uid in db.session.scalars(
                select(User.id).where(User.department_id == referral.department_id, User.active.is_(True))
            ):
                notify(uid, "supervised", now=now, ticket_id=ticket.id, reason=reason)
