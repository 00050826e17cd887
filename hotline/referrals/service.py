"""Referral rules (一门受理、协同办理): one function per action, each with an explicit ``now``.

The first-contact owner (or a manager) dispatches, cancels, redispatches and
decides on returns; a manager decides on extensions; staff of the receiving
unit acknowledge (签收), note progress, ask for a return (退单) or an
extension (延期), pass a township's referral on to a village, and resolve
(办结). Nobody decides on a return or an extension they asked for themselves
(four eyes), and an extension reaches at most what ``max_extension`` in
``sla.toml`` allows for the ticket's priority; a priority without it has no
limit beyond the current deadline, and the manager judges.

Every action writes a TicketEvent tagged with the referral, and the caller
commits. When no referral of a ticket is active any more, the ticket moves on:
to ``pending_callback`` if something was resolved, back to ``open`` otherwise,
and the owner is told.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import access, labels
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import clocks, sla
from hotline.extensions import db
from hotline.formatting import localtime
from hotline.tickets.service import add_event
from hotline.user_notifications import notify
from hotline.validation import check_version, checked_text
from models.department import Department
from models.referral import ACTIVE_STATUSES, OUTCOMES, RETURN_REASONS, ROLES, Referral
from models.ticket import URGENT_PRIORITIES, Ticket, TicketEvent
from models.user import User

# --- helpers -------------------------------------------------------------------------------


def _event(referral: Referral, actor: User | None, kind: str, now: datetime, **payload):
    # A referral's change is its ticket's: partners sync tickets by their updated_at (GET /api/v1/tickets).
    referral.ticket.updated_at = now
    ev = add_event(referral.ticket, actor, kind, now, department=referral.department.name, **payload)
    ev.referral_id = referral.id
    return ev


def _require_owner_or_manager(ticket: Ticket, actor: User) -> None:
    if not access.can_manage_ticket(actor, ticket):
        raise NotAllowed(_l("Only the first-contact owner of this ticket or a manager can do this."))


def _require_unit_staff(referral: Referral, actor: User) -> None:
    if not access.works_on_referral(actor, referral):
        raise NotAllowed(_l("Only staff of the unit this case was referred to can do this."))


def requester_id(referral: Referral, kind: str) -> int | None:
    """Who asked for what waits on ``referral``: the actor of its latest ``kind`` event
    (``return_requested`` or ``extension_requested``)."""
    return db.session.scalar(
        select(TicketEvent.actor_id)
        .where(TicketEvent.referral_id == referral.id, TicketEvent.kind == kind)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )


def latest_extension(referral: Referral) -> datetime | None:
    """The latest date an extension of ``referral`` may reach, or None when its priority has no limit.

    ``max_extension`` of the ticket's priority in ``sla.toml``, counted the way
    that rule counts (working days for P3) from the current resolve deadline.
    """
    if referral.resolve_due_at is None:
        return None
    return sla.extension_limit(referral.ticket.priority, referral.resolve_due_at)


def _require_status(referral: Referral, allowed: tuple[str, ...], message) -> None:
    if referral.status not in allowed:
        raise DomainError(message)


def _set_status(referral: Referral, status: str, now: datetime) -> None:
    referral.status = status
    referral.updated_at = now
    clocks.sync_referral(referral, now)


def _roll_up(ticket: Ticket, actor: User | None, now: datetime) -> None:
    """Move the ticket on when none of its referrals is active any more, and tell the owner."""
    _move_ticket_on(ticket, actor, now)
    clocks.sync_ticket(ticket, now)


def _move_ticket_on(ticket: Ticket, actor: User | None, now: datetime) -> None:
    if ticket.status != "referred":
        return
    referrals = list(ticket.referrals)
    if any(r.status in ACTIVE_STATUSES for r in referrals):
        return
    resolved = [r for r in referrals if r.status == "resolved"]
    ticket.updated_at = now
    if resolved:
        ticket.status = "pending_callback"
        ticket.resolved_at = now
        add_event(ticket, actor, "referrals_done", now, resolved=len(resolved))
        notify(ticket.first_contact_owner_id, "referrals_done", now=now, ticket_id=ticket.id, number=ticket.number)
    else:
        ticket.status = "open"
        add_event(ticket, actor, "referrals_none_left", now)
        notify(ticket.first_contact_owner_id, "referrals_none_left", now=now, ticket_id=ticket.id, number=ticket.number)


def _new_referral(
    ticket: Ticket,
    department: Department,
    role: str,
    actor: User,
    now: datetime,
    instructions: str | None,
    parent: Referral | None = None,
) -> Referral:
    """A referral just dispatched, with its acknowledge and resolve clocks set."""
    referral = Referral(
        ticket=ticket,
        department=department,
        role=role,
        parent=parent,
        instructions=instructions,
        status="dispatched",
        dispatched_by_id=actor.id,
        dispatched_at=now,
        extension_state="none",
        updated_at=now,
    )
    db.session.add(referral)
    _deadlines_for(referral, now)
    return referral


def _deadlines_for(referral: Referral, now: datetime) -> None:
    """Set the acknowledge and resolve clocks from the SLA policy for the ticket's priority."""
    priority = referral.ticket.priority
    referral.acknowledge_due_at = sla.deadline(priority, "acknowledge", now)
    referral.resolve_due_at = sla.deadline(priority, "resolve", now)


# --- the hotline's side --------------------------------------------------------------------


def dispatch_referral(
    ticket: Ticket,
    *,
    department: Department,
    role: str,
    actor: User,
    now: datetime,
    instructions: str | None = None,
    expected_version: int | None = None,
) -> Referral:
    """派单: refer ``ticket`` to ``department`` as lead (主办) or assist (协办).

    A ticket has at most one active lead; an assist needs a lead. The same unit
    cannot hold two active referrals of one ticket. A P0/P1 referral texts the
    unit's duty phone through the outbox (绿色通道: at once, no batching).
    """
    _require_owner_or_manager(ticket, actor)
    if ticket.status not in ("open", "referred", "pending_callback"):
        raise DomainError(_l("Only an open ticket can be referred. Reopen it first if it was closed."))
    if role not in ROLES:
        raise DomainError(_l("Choose lead or assist."))
    if not department.active:
        raise DomainError(_l("This unit is deactivated."))
    if department.kind == "hotline":
        raise DomainError(_l("Refer to a department, township or village, not to the hotline itself."))
    active = [r for r in ticket.referrals if r.is_active]
    if any(r.department_id == department.id for r in active):
        raise DomainError(_l("%(unit)s already has this case.", unit=department.name))
    has_lead = any(r.role == "lead" and r.parent_id is None for r in active)
    if role == "lead" and has_lead:
        raise DomainError(_l("This ticket already has a lead unit; add this one as an assist."))
    if role == "assist" and not has_lead:
        raise DomainError(_l("Choose the lead unit (主办) first; assists (协办) work with a lead."))
    instructions = checked_text(instructions, None, required=False)
    if expected_version is not None and ticket.version != expected_version:
        raise StaleError(labels.STALE)
    referral = _new_referral(ticket, department, role, actor, now, instructions)
    clocks.sync_referral(referral, now)
    db.session.flush()
    if ticket.status != "referred":
        ticket.status = "referred"
        ticket.resolved_at = None
    ticket.updated_at = now
    _event(referral, actor, "referral_dispatched", now, role=role, instructions=instructions)
    clocks.sync_ticket(ticket, now)
    if ticket.priority in URGENT_PRIORITIES:
        _text_duty_phone(referral, now)
    return referral


def _text_duty_phone(referral: Referral, now: datetime) -> None:
    from hotline.notify.service import enqueue_sms

    unit = referral.department
    if not unit.duty_phone:
        return
    ticket = referral.ticket
    body = sla.sla_policy().unit_text(
        "dispatched", number=ticket.number, priority=ticket.priority, summary=ticket.summary
    )
    enqueue_sms(to=unit.duty_phone, body=body, now=now, ticket=referral.ticket)


def cancel_referral(
    referral: Referral, *, actor: User, now: datetime, reason: str, expected_version: int | None = None
):
    """Withdraw an active referral (and any it was passed on to), with a reason."""
    _require_owner_or_manager(referral.ticket, actor)
    _require_status(referral, ACTIVE_STATUSES, _l("Only an active referral can be cancelled."))
    reason = checked_text(reason, _l("Give a reason for cancelling."))
    check_version(referral, expected_version)
    _close(referral, "cancelled", actor, now, reason)
    _roll_up(referral.ticket, actor, now)


def _close(
    referral: Referral, status: str, actor: User | None, now: datetime, reason: str | None, *, event: bool = True
) -> None:
    for child in referral.children:
        if child.is_active:
            _close(child, "cancelled", actor, now, reason)
    _set_status(referral, status, now)
    referral.closed_at = now
    referral.closed_reason = reason
    if event:
        _event(referral, actor, f"referral_{status}", now, reason=reason)


def decide_return(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    accept: bool,
    comment: str | None = None,
    redispatch_to: Department | None = None,
    instructions: str | None = None,
    expected_version: int | None = None,
) -> Referral | None:
    """Decide a 退单 request: accept (the referral ends as returned, optionally redispatched
    to another unit in the same role) or reject (back to the unit, its clock still running).

    ``instructions`` are what the unit redispatched to is asked to do; ``None`` passes on
    the returned referral's (what the hotline asked 医保 is seldom what it asks 住建).
    """
    _require_owner_or_manager(referral.ticket, actor)
    _require_status(referral, ("return_requested",), _l("There is no return request waiting on this referral."))
    if requester_id(referral, "return_requested") == actor.id:
        raise NotAllowed(
            _l("You asked for this return: the ticket's first-contact owner or a manager other than you decides.")
        )
    check_version(referral, expected_version)
    comment = checked_text(comment, None, required=False)
    if not accept:
        if not comment:
            raise DomainError(_l("Tell the unit why the return is rejected."))
        _set_status(referral, referral.status_before_return or "acknowledged", now)
        referral.return_review_due_at = None
        clocks.sync_referral(referral, now)
        _event(referral, actor, "return_rejected", now, comment=comment)
        return None
    if redispatch_to is not None and redispatch_to.id == referral.department_id:
        raise DomainError(_l("Redispatch to a different unit."))
    _close(referral, "returned", actor, now, comment, event=False)  # the decision below is the event
    referral.return_review_due_at = None
    _event(referral, actor, "return_accepted", now, comment=comment)
    new = None
    if redispatch_to is not None:
        new = dispatch_referral(
            referral.ticket,
            department=redispatch_to,
            role=referral.role,
            actor=actor,
            now=now,
            instructions=referral.instructions if instructions is None else instructions,
        )
    else:
        _roll_up(referral.ticket, actor, now)
    return new


def decide_extension(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    approve: bool,
    comment: str | None = None,
    expected_version: int | None = None,
) -> None:
    """A manager other than the one who asked approves (the resolve deadline moves) or denies an extension.

    An approval beyond what the policy allows now (``latest_extension``) is refused: it can only be denied.
    """
    if not access.can_supervise(actor):
        raise NotAllowed(_l("Only a manager can decide on an extension."))
    if referral.extension_state != "requested":
        raise DomainError(_l("There is no extension request waiting on this referral."))
    if requester_id(referral, "extension_requested") == actor.id:
        raise NotAllowed(_l("You asked for this extension: another manager must decide on it."))
    check_version(referral, expected_version)
    latest = latest_extension(referral)
    if approve and latest is not None and referral.extension_until > latest:
        raise DomainError(
            _l(
                "This extension goes beyond %(latest)s, the latest the policy allows: it can only be denied.",
                latest=localtime(latest),
            )
        )
    comment = checked_text(comment, None, required=False)
    referral.extension_state = "approved" if approve else "denied"
    referral.updated_at = now
    old = referral.resolve_due_at
    if approve:
        referral.resolve_due_at = referral.extension_until
    clocks.sync_referral(referral, now)
    _event(
        referral,
        actor,
        "extension_approved" if approve else "extension_denied",
        now,
        comment=comment,
        old_deadline=old.isoformat() if old else None,
        new_deadline=referral.resolve_due_at.isoformat() if approve and referral.resolve_due_at else None,
    )
    notify_unit = referral.acknowledged_by_id
    notify(notify_unit, "extension_decided", now=now, ticket_id=referral.ticket_id, approved=approve)


def reopen_referral(
    referral: Referral, *, actor: User, now: datetime, reason: str, expected_version: int | None = None
):
    """A resolved referral goes back to the unit (the caller called again, or was not satisfied)."""
    ticket = referral.ticket
    _require_owner_or_manager(ticket, actor)
    _require_status(referral, ("resolved",), _l("Only a resolved referral can be reopened."))
    if ticket.status not in ("open", "referred", "pending_callback"):
        raise DomainError(_l("Reopen the ticket first."))
    reason = checked_text(reason, _l("Give a reason for reopening."))
    check_version(referral, expected_version)
    referral.resolved_at = None
    referral.closed_at = None
    _set_status(referral, "in_progress", now)
    ticket.status = "referred"
    ticket.resolved_at = None
    ticket.updated_at = now
    clocks.sync_ticket(ticket, now)
    _event(referral, actor, "referral_reopened", now, reason=reason)


# --- the unit's side -----------------------------------------------------------------------


def acknowledge(referral: Referral, *, actor: User, now: datetime, expected_version: int | None = None) -> None:
    """签收: the unit takes the case on; its acknowledge clock stops."""
    _require_unit_staff(referral, actor)
    _require_status(referral, ("dispatched",), _l("Only a newly referred case can be acknowledged."))
    check_version(referral, expected_version)
    referral.acknowledged_at = now
    referral.acknowledged_by_id = actor.id
    _set_status(referral, "acknowledged", now)
    _event(referral, actor, "referral_acknowledged", now)


def add_progress(referral: Referral, *, actor: User, now: datetime, text: str, contacted: bool = False) -> None:
    """A progress note from the unit; the first one moves an acknowledged referral to in progress.

    ``contacted``: the unit reached the person in difficulty, which meets the
    ticket's first-contact clock if nobody had yet.
    """
    _require_unit_staff(referral, actor)
    _require_status(
        referral,
        ("acknowledged", "in_progress", "return_requested"),
        _l("Acknowledge the case before adding progress."),
    )
    text = checked_text(text, _l("Write the progress note first."))
    if referral.status == "acknowledged":
        _set_status(referral, "in_progress", now)
    referral.updated_at = now
    if contacted and referral.ticket.first_contact_at is None:
        referral.ticket.first_contact_at = now
        clocks.sync_ticket(referral.ticket, now)
    _event(referral, actor, "referral_progress", now, text=text, contacted=contacted)


def request_return(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    reason: str,
    comment: str | None,
    expected_version: int | None = None,
) -> None:
    """退单: the unit asks to hand the case back, with a reason from the list and a comment."""
    _require_unit_staff(referral, actor)
    _require_status(
        referral, ("dispatched", "acknowledged", "in_progress"), _l("This referral cannot be returned now.")
    )
    if reason not in RETURN_REASONS:
        raise DomainError(_l("Choose a reason for the return."))
    comment = checked_text(comment, _l("Explain the return in a few words."))
    check_version(referral, expected_version)
    referral.status_before_return = referral.status
    referral.return_reason = reason
    referral.return_comment = comment
    referral.return_requested_at = now
    referral.return_review_due_at = sla.deadline(referral.ticket.priority, "return_review", now)
    _set_status(referral, "return_requested", now)
    _event(referral, actor, "return_requested", now, reason=reason, comment=comment)
    notify(
        referral.ticket.first_contact_owner_id,
        "return_requested",
        now=now,
        ticket_id=referral.ticket_id,
        unit=referral.department.name,
    )


def request_extension(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    reason: str,
    until: datetime,
    expected_version: int | None = None,
) -> None:
    """延期: asked once, before the resolve deadline, for a date up to ``latest_extension``; a manager decides."""
    _require_unit_staff(referral, actor)
    _require_status(
        referral, ("acknowledged", "in_progress"), _l("Acknowledge the case before asking for an extension.")
    )
    if referral.extension_state != "none":
        raise DomainError(_l("An extension can be asked only once."))
    if referral.resolve_due_at is not None and now >= referral.resolve_due_at:
        raise DomainError(_l("The deadline has passed: an extension must be asked before it."))
    if referral.resolve_due_at is not None and until <= referral.resolve_due_at:
        raise DomainError(_l("The proposed date must be after the current deadline."))
    if until <= now:
        raise DomainError(_l("The proposed date must be in the future."))
    latest = latest_extension(referral)
    if latest is not None and until > latest:
        raise DomainError(
            _l(
                "An extension can reach %(latest)s at the latest (the most the policy allows after the current "
                "deadline). Choose that date or an earlier one.",
                latest=localtime(latest),
            )
        )
    reason = checked_text(reason, _l("Give a reason for the extension."))
    check_version(referral, expected_version)
    referral.extension_state = "requested"
    referral.extension_reason = reason
    referral.extension_until = until
    referral.updated_at = now
    _event(referral, actor, "extension_requested", now, reason=reason, until=until.isoformat())


def pass_on(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    department: Department,
    instructions: str | None = None,
    expected_version: int | None = None,
) -> Referral:
    """A township passes its referral on to one of its villages or grid units (child referral).

    The township's referral stays open until the child's is resolved, or it resolves it itself.
    """
    _require_unit_staff(referral, actor)
    _require_status(referral, ("acknowledged", "in_progress"), _l("Acknowledge the case before passing it on."))
    if department.parent_id != referral.department_id:
        raise DomainError(_l("A case can only be passed on to a unit directly under yours."))
    if not department.active:
        raise DomainError(_l("This unit is deactivated."))
    if any(c.is_active and c.department_id == department.id for c in referral.children):
        raise DomainError(_l("%(unit)s already has this case.", unit=department.name))
    instructions = checked_text(instructions, None, required=False)
    check_version(referral, expected_version)
    child = _new_referral(referral.ticket, department, referral.role, actor, now, instructions, parent=referral)
    if referral.resolve_due_at and (child.resolve_due_at is None or child.resolve_due_at > referral.resolve_due_at):
        child.resolve_due_at = referral.resolve_due_at  # the village works within the township's time
    clocks.sync_referral(child, now)
    if referral.status == "acknowledged":
        _set_status(referral, "in_progress", now)
    db.session.flush()
    _event(child, actor, "referral_passed_on", now, parent_unit=referral.department.name, instructions=instructions)
    return child


def resolve(
    referral: Referral,
    *,
    actor: User,
    now: datetime,
    result: str,
    outcome: str,
    expected_version: int | None = None,
) -> None:
    """办结: the unit finishes with a result text and an outcome.

    A child's resolution also resolves its township's referral; a township that
    resolves its own referral withdraws what it passed on.
    """
    _require_unit_staff(referral, actor)
    _require_status(
        referral, ("acknowledged", "in_progress", "return_requested"), _l("Acknowledge the case before resolving it.")
    )
    if outcome not in OUTCOMES:
        raise DomainError(_l("Choose an outcome."))
    result = checked_text(result, _l("Write what your unit did."))
    check_version(referral, expected_version)
    _finish(referral, actor, now, result, outcome)
    parent = referral.parent
    if parent is not None and parent.is_active:
        _finish(parent, actor, now, result, outcome, via=referral.department.name)
    _roll_up(referral.ticket, actor, now)


def _finish(referral: Referral, actor: User, now: datetime, result: str, outcome: str, via: str | None = None):
    for child in referral.children:
        if child.is_active:
            _close(child, "cancelled", actor, now, None)
    referral.result = result
    referral.outcome = outcome
    referral.resolved_at = now
    referral.resolved_by_id = actor.id
    referral.closed_at = now
    referral.return_review_due_at = None
    _set_status(referral, "resolved", now)
    _event(referral, actor, "referral_resolved", now, result=result, outcome=outcome, via=via)


def suggested_units(ticket: Ticket, catalogue) -> list[tuple[str, Department]]:
    """The dispatch catalogue's suggestion for the ticket's category: ("lead"|"assist", unit) pairs.

    ``township`` in the catalogue means the caller's own township, when it is known.
    """
    category = catalogue.get(ticket.category)
    if category is None:
        return []
    codes = ([("lead", category.lead)] if category.lead else []) + [("assist", c) for c in category.assists]
    by_code = {d.code: d for d in db.session.scalars(select(Department).where(Department.active.is_(True)))}
    township = ticket.contact.township if ticket.contact else None
    out = []
    for role, code in codes:
        unit = township if code == "township" else by_code.get(code)
        if unit is not None and all(u.id != unit.id for _r, u in out):
            out.append((role, unit))
    if out and out[0][0] != "lead":
        out[0] = ("lead", out[0][1])
    return out


def unmask_for_unit(referral: Referral, *, actor: User, now: datetime, reason: str) -> None:
    """Department staff may see the caller's full numbers once they acknowledged the case; logged with the reason."""
    _require_unit_staff(referral, actor)
    if referral.status == "dispatched":
        raise DomainError(_l("Acknowledge the case first; the caller's numbers are shown after that."))
    if referral.status not in ACTIVE_STATUSES:
        raise DomainError(_l("This referral is finished."))
    if referral.ticket.contact is None:
        raise DomainError(_l("This ticket has no caller details."))
    reason = checked_text(reason, _l("Say why you need to see the full numbers."))
    _event(referral, actor, "unmasked", now, reason=reason)
