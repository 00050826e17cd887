"""Clock and escalation actions: pause and resume (P2/P3), supervise by hand (督办), resynchronise after an upgrade."""

from collections import defaultdict
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import access, labels
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import clocks
from hotline.escalation.sweep import _higher
from hotline.extensions import db
from hotline.tickets.service import add_event
from hotline.user_notifications import notify
from models.escalation import EscalationStep
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent
from models.user import User


def _reason(text: str | None, message) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(message)
    if len(text) > 500:
        raise DomainError(_l("The text is too long (at most %(n)s characters).", n=500))
    return text


def _owner_or_manager(ticket: Ticket, actor: User) -> None:
    if not access.can_manage_ticket(actor, ticket):
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


def sync_open_tickets(*, now: datetime, batch_size: int = 500) -> dict:
    """Bring every open ticket's clocks in line with the rules (after an upgrade that changed them).

    A ticket with the hotline but no own clock running gets one, started when
    its history says it came back to the hotline (``clocks.own_clock_start``),
    so a case that waited unseen is caught up by the next sweep. Commits each
    batch; returns how many tickets were checked and how many changed.
    """
    watched = (
        "dispatch_started_at",
        "dispatch_due_at",
        "close_due_at",
        "pause_review_due_at",
        "next_deadline_at",
        "next_escalation_at",
    )
    report = {"checked": 0, "changed": 0}
    last_id = 0
    while True:
        batch = db.session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(OPEN_STATUSES), Ticket.id > last_id)
            .order_by(Ticket.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return report
        history = defaultdict(list)
        for ticket_id, kind, at in db.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.at).where(
                TicketEvent.ticket_id.in_([t.id for t in batch]),
                TicketEvent.kind.in_(("referrals_none_left", "reopened")),
            )
        ):
            history[ticket_id].append((kind, at))
        for ticket in batch:
            before = [getattr(ticket, column) for column in watched]
            if clocks.needs_own_clock(ticket) and ticket.dispatch_started_at is None:
                ticket.dispatch_started_at = clocks.own_clock_start(ticket, history[ticket.id])
                ticket.dispatch_due_at = None
            clocks.sync_ticket(ticket, now)
            report["checked"] += 1
            report["changed"] += before != [getattr(ticket, column) for column in watched]
        last_id = batch[-1].id
        db.session.commit()


def supervise(ticket: Ticket, *, actor: User, now: datetime, reason: str, expected_version: int | None = None) -> None:
    """督办 by hand: a manager takes a case up before (or regardless of) the ladder; flagged red."""
    if not access.can_supervise(actor):
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
            started_at=now,
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
