"""Ticket rules: one function per domain action, each with an explicit ``now``.

Every function checks its preconditions, raises ``DomainError`` (or a subclass)
with a message for the user when refused, writes its ``TicketEvent``, and
leaves the commit to the caller, so a view, the API or the CLI decide the
transaction. ``expected_version`` is the ticket version the user's form was
built from: if someone else changed the ticket since, ``StaleError`` is raised
and nothing is written.
"""

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import MANYTOONE, make_transient_to_detached

from hotline import access, bulk, labels
from hotline.access import can_ticket_call
from hotline.errors import DomainError, NotAllowed
from hotline.escalation import clocks, sla
from hotline.extensions import DIALECT_INSERT, db
from hotline.formatting import format_yuan
from hotline.policy import catalogue
from hotline.privacy import normalize_phone
from hotline.timeutil import local_date
from hotline.triage import triage_text
from hotline.user_notifications import notify
from hotline.validation import check_version, checked_text
from hotline.webhooks import service as webhooks
from models.contact import FLAGS, Contact
from models.department import Department
from models.interaction import CHANNELS, Interaction
from models.ticket import (
    EMERGENCY_SERVICES,
    OPEN_STATUSES,
    PRIORITIES,
    URGENT_PRIORITIES,
    Ticket,
    TicketEvent,
    TicketSequence,
)
from models.user import User

# --- helpers -------------------------------------------------------------------------------


def event_row(
    ticket_id: int | None,
    kind: str,
    at: datetime,
    *,
    actor_id: int | None = None,
    referral_id: int | None = None,
    **payload,
) -> dict:
    """The values of one ``ticket_event`` row. Every way of appending an event builds them here: ``add_event``
    (the ORM), the sweep's bulk INSERT and the SMS webhook's INSERT below the ORM."""
    return {
        "ticket_id": ticket_id,
        "referral_id": referral_id,
        "actor_id": actor_id,
        "kind": kind,
        "payload": payload,
        "at": at,
    }


#: The columns an event row has values for (the rest are the database's: the id).
EVENT_COLUMNS = tuple(event_row(None, "", None))


def add_event(ticket: Ticket, actor: User | None, kind: str, now: datetime, **payload) -> TicketEvent:
    """Append one event to ``ticket``'s history in the current transaction.

    A state change a partner may be told of (a kind of ``webhooks.toml``) also queues its webhook deliveries
    here, in the same transaction; any other kind costs one set look-up.
    """
    ev = TicketEvent(**event_row(ticket.id, kind, now, actor_id=actor.id if actor else None, **payload))
    db.session.add(ev)
    if kind in webhooks.watched_kinds():
        webhooks.queue_for_event(ticket, kind, now, payload)
    return ev


def insert_events(rows: list[dict]) -> None:
    """Append the events of ``rows`` (built by ``event_row``) in the current transaction, as one INSERT and
    without the ORM (``hotline.bulk``): for the sweep's thousands of steps and a new ticket's first events,
    where the ORM's flush would cost several times the INSERT."""
    if rows:
        bulk.insert_rows(TicketEvent.__table__, rows)
        watched = webhooks.watched_kinds()
        for row in rows:
            if row["kind"] in watched:
                ticket = db.session.get(Ticket, row["ticket_id"])
                webhooks.queue_for_event(ticket, row["kind"], row["at"], row["payload"])


def _require_ticket_role(actor: User) -> None:
    if not access.is_hotline(actor):
        raise NotAllowed(_l("Only hotline operators and managers can do this."))


def _require_owner_or_manager(ticket: Ticket, actor: User) -> None:
    _require_ticket_role(actor)
    if not access.can_manage_ticket(actor, ticket):
        raise NotAllowed(_l("Only the first-contact owner of this ticket or a manager can do this."))


def _require_status(ticket: Ticket, allowed: tuple[str, ...], message) -> None:
    if ticket.status not in allowed:
        raise DomainError(message)


def _touch(ticket: Ticket, now: datetime, expected_version: int | None) -> None:
    check_version(ticket, expected_version)
    ticket.updated_at = now


_SEQUENCE = TicketSequence.__table__
#: The numbering upsert, built once per dialect: it runs on every intake, the SMS webhook's hot path too.
_NEXT_NUMBER = {
    name: dialect_insert(_SEQUENCE)
    .on_conflict_do_update(index_elements=["day"], set_={"last_value": _SEQUENCE.c.last_value + 1})
    .returning(_SEQUENCE.c.last_value)
    for name, dialect_insert in DIALECT_INSERT.items()
}


def next_ticket_number(now: datetime) -> str:
    """Issue the next ``YYYYMMDD`` + 4-digit number for the Asia/Shanghai day of ``now``.

    One atomic upsert on ``ticket_sequence`` (row-locked until commit on
    PostgreSQL, serialised by the write lock on SQLite), so concurrent intakes
    never share a number.
    """
    day = local_date(now)
    conn = db.session.connection()
    seq = conn.execute(_NEXT_NUMBER[conn.dialect.name], {"day": day, "last_value": 1}).scalar_one()
    return ticket_number(day, seq)


def ticket_number(day, seq: int) -> str:
    """The ticket number of the ``seq``-th ticket of the local ``day``: ``YYYYMMDD`` + 4 digits."""
    return f"{day:%Y%m%d}{seq:04d}"


_CONTACT = Contact.__table__
_TICKET = Ticket.__table__
#: A new ticket's row (``_store_new_ticket``): one statement, compiled once for each set of columns given.
_INSERT_TICKET = insert(_TICKET).returning(_TICKET.c.id)
#: A new phone number's contact, built once per dialect: nothing when the number has one already.
_NEW_CONTACT = {
    name: dialect_insert(_CONTACT).on_conflict_do_nothing(index_elements=["phone"]).returning(_CONTACT.c.id)
    for name, dialect_insert in DIALECT_INSERT.items()
}


def get_or_create_contact(phone: str | None, *, now: datetime, name: str | None = None) -> Contact | None:
    """The contact for ``phone`` (normalised to E.164), created if new.

    A number that cannot be parsed is kept as given in ``phone_raw`` on a new
    contact, never dropped. No phone and no name gives no contact (anonymous).
    """
    raw = (phone or "").strip()
    e164 = normalize_phone(raw) if raw else None
    if e164:
        contact = db.session.get(Contact, _phone_contact(e164, now=now, name=name)[0])
        if name and not contact.name:
            contact.name = name
        return contact
    if not raw and not name:
        return None
    contact = Contact(phone=None, phone_raw=raw or None, name=name or None, created_at=now)
    db.session.add(contact)
    return contact


def _phone_contact(e164: str, *, now: datetime, name: str | None = None) -> tuple[int, bool]:
    """(id, is a child) of the contact of a valid ``e164`` number, created if new: one INSERT that does
    nothing when another request (or an earlier call) created it first, then a look-up only if it did."""
    conn = db.session.connection()
    created = conn.execute(_NEW_CONTACT[conn.dialect.name], {"phone": e164, "name": name or None, "created_at": now})
    new_id = created.scalar()
    if new_id is not None:
        return new_id, False
    found = conn.execute(select(_CONTACT.c.id, _CONTACT.c.is_child).where(_CONTACT.c.phone == e164)).one()
    return found.id, bool(found.is_child)


def find_recent_open_ticket(phone: str, *, now: datetime, hours: int = 72) -> Ticket | None:
    """The newest open ticket of the same caller created in the last ``hours`` (repeat call)."""
    e164 = normalize_phone(phone)
    if not e164:
        return None
    return db.session.scalar(
        select(Ticket)
        .join(Contact, Ticket.contact_id == Contact.id)
        .where(
            Contact.phone == e164,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.created_at >= now - timedelta(hours=hours),
        )
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )


def caller_history(phone: str, *, limit: int = 10) -> tuple[Contact | None, list[Ticket]]:
    """The caller's contact record and their latest tickets, newest first."""
    e164 = normalize_phone(phone)
    if not e164:
        return None, []
    contact = db.session.scalar(select(Contact).where(Contact.phone == e164))
    if contact is None:
        return None, []
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.contact_id == contact.id).order_by(Ticket.created_at.desc()).limit(limit)
    ).all()
    return contact, list(tickets)


# --- actions -------------------------------------------------------------------------------


def log_call(
    *,
    actor: User,
    now: datetime,
    phone: str | None,
    category: str,
    priority: str,
    summary: str,
    description: str | None = None,
    caller_name: str | None = None,
    channel: str = "voice",
    confidential: bool = False,
    sensitive: bool = False,
    mandatory_report: bool = False,
    emergency_service: str | None = None,
    answered_on_call: bool = False,
    answer: str | None = None,
    checklist: list[str] | None = None,
    call: Interaction | None = None,
) -> Ticket:
    """Log a call (or walk-in) taken by an operator as a new ticket they own (首问负责制).

    P0 (danger to life) requires the emergency service the call was handed
    over to. ``answered_on_call`` with an ``answer`` resolves it directly: the
    ticket then waits for its callback. The summary and description are
    triaged: the suggestion is kept beside the operator's own priority and
    category, which stay theirs, and counts as reviewed then (confirmed when
    they are the same), so reports compare the two. ``call`` is the Interaction of a call
    that reached the line (the desk's live panel): the ticket takes it over
    instead of recording a new one.
    """
    _require_ticket_role(actor)
    if call is not None and not can_ticket_call(call, actor):
        raise NotAllowed(_l("This call already has a ticket, or another operator took it."))
    if channel not in CHANNELS:
        raise DomainError(_l("Unknown channel."))
    if catalogue().get(category) is None:
        raise DomainError(_l("Choose a category from the list."))
    if priority not in PRIORITIES:
        raise DomainError(_l("Choose a priority."))
    summary = checked_text(summary, _l("Write a one-line summary of the call."), limit=200)
    description = checked_text(description, None, required=False)
    if priority == "P0" and emergency_service not in EMERGENCY_SERVICES:
        raise DomainError(_l("A P0 call must be handed over to 110, 119 or 120: choose which."))
    if emergency_service is not None and emergency_service not in EMERGENCY_SERVICES:
        raise DomainError(_l("Choose 110, 119 or 120."))
    if answered_on_call:
        answer = checked_text(answer, _l("Write what the caller was told when the call was answered directly."))
    caller_name = checked_text(caller_name, None, required=False, limit=120)
    triage = triage_text("\n".join(filter(None, (summary, description))))

    contact = get_or_create_contact(phone, now=now, name=caller_name)
    ticket = Ticket(
        channel=channel,
        contact=contact,
        category=category,
        priority=priority,
        summary=summary,
        description=description,
        status="open",
        first_contact_owner_id=actor.id,
        created_by_id=actor.id,
        confidential=confidential,
        sensitive=sensitive or mandatory_report or bool(contact and contact.is_child),
        mandatory_report=mandatory_report,
        emergency_service=emergency_service,
        created_at=now,
        updated_at=now,
        triage_priority=triage.priority,
        triage_category=triage.category,
        triage_reasons=list(triage.reasons),
        triage_kind=triage.kind,
        triage_verdict="confirmed" if (triage.priority, triage.category) == (priority, category) else "corrected",
        triage_reviewed_at=now,
    )
    _store_new_ticket(ticket, actor=actor, now=now, checklist=checklist or [])
    if call is not None:
        call.ticket_id = ticket.id
        call.contact = contact
        call.handled_by_id = call.handled_by_id or actor.id
        call.answered_at = call.answered_at or now
    else:
        interaction = Interaction(
            channel=channel,
            direction="inbound",
            from_number=(phone or "").strip() or None,
            number_invalid=bool(phone and contact and contact.phone is None),
            contact=contact,
            ticket_id=ticket.id,
            status="completed",
            started_at=now,
            answered_at=now,
            ended_at=now,  # logged by hand once the operator has taken the call: it is over
            handled_by_id=actor.id,
        )
        db.session.add(interaction)
    if emergency_service:
        add_event(ticket, actor, "emergency_handover", now, service=emergency_service)
    if answered_on_call:
        ticket.status = "pending_callback"
        ticket.resolution = answer
        ticket.resolved_at = now
        add_event(ticket, actor, "resolved_directly", now, answer=answer)
    if channel in ("voice", "walk_in"):
        ticket.first_contact_at = now  # the operator is talking with the person
    clocks.sync_ticket(ticket, now)
    return ticket


def take_ticket(ticket: Ticket, *, actor: User, now: datetime, expected_version: int | None = None) -> None:
    """An operator takes an unclaimed ticket (from SMS or a missed call) and becomes its first-contact owner."""
    _require_ticket_role(actor)
    _require_status(ticket, ("new",), _l("This ticket already has an owner."))
    _touch(ticket, now, expected_version)
    ticket.first_contact_owner_id = actor.id
    ticket.status = "open"
    add_event(ticket, actor, "taken", now)
    clocks.sync_ticket(ticket, now)


def add_note(ticket: Ticket, *, actor: User, now: datetime, text: str) -> TicketEvent:
    """A progress note on the timeline; any operator or manager may add one to a ticket not merged away."""
    _require_ticket_role(actor)
    if ticket.status == "merged":
        raise DomainError(_l("This ticket was merged into another; add the note there."))
    text = checked_text(text, _l("Write the note first."))
    return add_event(ticket, actor, "note", now, text=text)


def change_priority(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    priority: str,
    reason: str,
    emergency_service: str | None = None,
    expected_version: int | None = None,
) -> None:
    """Raise or lower the priority, with a reason (owner or manager)."""
    _require_owner_or_manager(ticket, actor)
    _require_status(ticket, OPEN_STATUSES, _l("The priority of a closed or merged ticket cannot change."))
    if priority not in PRIORITIES:
        raise DomainError(_l("Choose a priority."))
    if priority == ticket.priority:
        raise DomainError(_l("The ticket already has this priority."))
    reason = checked_text(reason, _l("Give a reason for the change."))
    service = emergency_service or ticket.emergency_service
    if priority == "P0" and service not in EMERGENCY_SERVICES:
        raise DomainError(_l("A P0 call must be handed over to 110, 119 or 120: choose which."))
    _touch(ticket, now, expected_version)
    old = ticket.priority
    if ticket.paused_at is not None and priority in URGENT_PRIORITIES:
        # 救急难 clocks never pause: raised to P0/P1, a paused ticket's clocks run again at once.
        hours = clocks.resume(ticket, now=now)
        add_event(ticket, actor, "clocks_resumed", now, paused_working_hours=round(hours, 2))
    ticket.priority = priority
    if priority == "P0" and ticket.emergency_service != service:
        ticket.emergency_service = service
        add_event(ticket, actor, "emergency_handover", now, service=service)
    add_event(ticket, actor, "priority_changed", now, old=old, new=priority, reason=reason)
    clocks.restart_for_priority(ticket, now)


TRIAGE_VERDICTS = ("confirmed", "corrected")


def review_triage(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    priority: str | None = None,
    category: str | None = None,
    emergency_service: str | None = None,
    expected_version: int | None = None,
) -> str:
    """The operator's one look at the triage suggestion: confirm it, or correct priority and category.

    Without ``priority``/``category`` the suggestion's own are taken. The
    verdict is ``confirmed`` when the decision equals the suggestion and
    ``corrected`` otherwise; the ticket then takes the decided priority
    (through ``change_priority``: its rules, its event, clocks restarted) and
    category. One review per suggestion; returns the verdict.
    """
    _require_owner_or_manager(ticket, actor)
    _require_status(ticket, OPEN_STATUSES, _l("Only an open ticket's triage can be reviewed."))
    if ticket.triage_priority is None:
        raise DomainError(_l("This ticket has no triage suggestion to review."))
    if ticket.triage_verdict is not None:
        raise DomainError(_l("The triage suggestion of this ticket was already reviewed; change the priority instead."))
    check_version(ticket, expected_version)
    priority = priority or ticket.triage_priority
    category = category or ticket.triage_category or ticket.category
    if priority not in PRIORITIES:
        raise DomainError(_l("Choose a priority."))
    if catalogue().get(category) is None:
        raise DomainError(_l("Choose a category from the list."))
    suggested = {"priority": ticket.triage_priority, "category": ticket.triage_category}
    decided = {"priority": priority, "category": category}
    verdict = "confirmed" if decided == suggested else "corrected"
    before = {"priority": ticket.priority, "category": ticket.category}
    if priority != ticket.priority:
        reason = str(_l("Triage reviewed: %(verdict)s", verdict=labels.TRIAGE_VERDICT[verdict]))
        change_priority(
            ticket,
            actor=actor,
            now=now,
            priority=priority,
            reason=reason,
            emergency_service=emergency_service,
            expected_version=expected_version,
        )
    ticket.category = category
    ticket.triage_verdict = verdict
    ticket.triage_reviewed_at = now
    ticket.updated_at = now
    moved = {"from": before, "to": decided}
    add_event(ticket, actor, "triage_reviewed", now, verdict=verdict, suggested=suggested, **moved)
    return verdict


def transfer_owner(
    ticket: Ticket, *, actor: User, now: datetime, new_owner: User, reason: str, expected_version: int | None = None
) -> None:
    """Hand first-contact ownership to another operator, with a reason (owner or manager)."""
    _require_owner_or_manager(ticket, actor)
    _require_status(ticket, OPEN_STATUSES, _l("A closed or merged ticket cannot change owner."))
    if new_owner.role != "operator" or not new_owner.active:
        raise DomainError(_l("Ownership can only go to an active hotline operator."))
    if new_owner.id == ticket.first_contact_owner_id:
        raise DomainError(_l("This operator already owns the ticket."))
    reason = checked_text(reason, _l("Give a reason for handing the ticket over."))
    _touch(ticket, now, expected_version)
    old = ticket.first_contact_owner_id
    ticket.first_contact_owner_id = new_owner.id
    if ticket.status == "new":
        ticket.status = "open"
    add_event(
        ticket, actor, "owner_changed", now, old=old, new=new_owner.id, new_name=new_owner.display_name, reason=reason
    )
    # The new owner answers for the case from now on, the old one no longer: neither may learn it by chance.
    notify(new_owner.id, "ticket_handed_over", now=now, ticket_id=ticket.id, by=actor.display_name, reason=reason)
    if old is not None and old != actor.id:
        notify(
            old,
            "ticket_taken_over",
            now=now,
            ticket_id=ticket.id,
            by=actor.display_name,
            to=new_owner.display_name,
            reason=reason,
        )


def merge_ticket(
    ticket: Ticket, *, actor: User, now: datetime, target: Ticket, reason: str, expected_version: int | None = None
) -> None:
    """并单: fold duplicate ``ticket`` into ``target``; the duplicate ends as ``merged``."""
    _require_owner_or_manager(ticket, actor)
    _require_status(ticket, OPEN_STATUSES, _l("Only an open ticket can be merged."))
    if target.id == ticket.id:
        raise DomainError(_l("A ticket cannot be merged into itself."))
    if target.status not in OPEN_STATUSES:
        raise DomainError(_l("The ticket to merge into must still be open."))
    reason = checked_text(reason, _l("Give a reason for merging."))
    _touch(ticket, now, expected_version)
    ticket.status = "merged"
    ticket.merged_into_id = target.id
    ticket.closed_at = now
    target.updated_at = now
    add_event(ticket, actor, "merged_into", now, target=target.number, reason=reason)
    clocks.sync_ticket(ticket, now)
    add_event(target, actor, "merged_from", now, source=ticket.number, reason=reason)
    if target.first_contact_owner_id != actor.id:
        # The target's owner now answers for the duplicate's caller too.
        notify(
            target.first_contact_owner_id,
            "ticket_merged_in",
            now=now,
            ticket_id=target.id,
            by=actor.display_name,
            source=ticket.number,
            reason=reason,
        )


def resolve_directly(
    ticket: Ticket, *, actor: User, now: datetime, answer: str, expected_version: int | None = None
) -> None:
    """直接答复: the caller's need was met by the operator; the ticket waits for its callback."""
    _require_owner_or_manager(ticket, actor)
    _require_status(ticket, ("open",), _l("Only an open ticket with no referrals can be answered directly."))
    answer = checked_text(answer, _l("Write what the caller was told."))
    _touch(ticket, now, expected_version)
    ticket.status = "pending_callback"
    ticket.resolution = answer
    ticket.resolved_at = now
    add_event(ticket, actor, "resolved_directly", now, answer=answer)
    clocks.sync_ticket(ticket, now)


def record_callback(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    reached: bool,
    satisfaction: int | None = None,
    comment: str | None = None,
    expected_version: int | None = None,
) -> None:
    """回访: a call back to the caller. Reached callers rate the help 1 (very unhappy) .. 5 (very happy)."""
    _require_ticket_role(actor)
    _require_status(
        ticket,
        ("open", "pending_callback"),
        _l("A callback can only be recorded on an open ticket or one awaiting callback."),
    )
    if reached:
        if satisfaction is None or not 1 <= satisfaction <= 5:
            raise DomainError(_l("The caller was reached: record their satisfaction from 1 to 5."))
    elif satisfaction is not None:
        raise DomainError(_l("Satisfaction can only be recorded when the caller was reached."))
    comment = checked_text(comment, None, required=False)
    _touch(ticket, now, expected_version)
    ticket.last_callback_at = now
    ticket.close_due_at = None  # each attempt starts the closing clock (结案) again, from this attempt
    if reached:
        ticket.satisfaction = satisfaction
        if ticket.first_contact_at is None:
            ticket.first_contact_at = now
    add_event(ticket, actor, "callback", now, reached=reached, satisfaction=satisfaction, comment=comment)
    clocks.sync_ticket(ticket, now)


def close_ticket(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    resolution: str | None = None,
    expected_version: int | None = None,
    leave_relief_unpaid: bool = False,
) -> None:
    """办结: close a ticket whose help is done. An open ticket needs the resolution written now.

    Approved advance relief not yet paid in full is money the person was
    promised: closing then needs ``leave_relief_unpaid`` (the closer confirms it
    stays unpaid) and a resolution that says why; the event keeps the amount.
    """
    _require_owner_or_manager(ticket, actor)
    _require_status(
        ticket, ("open", "pending_callback"), _l("Only an open ticket or one awaiting callback can be closed.")
    )
    resolution = checked_text(resolution, None, required=False)
    if ticket.status == "open" and not resolution:
        raise DomainError(_l("Write what was done for the caller before closing."))
    unpaid = sum(relief.unpaid_fen for relief in ticket.reliefs)
    if unpaid and not leave_relief_unpaid:
        raise DomainError(
            _l(
                "%(amount)s of approved advance relief is not paid yet. Record the payment first, or confirm that"
                " the case closes with it unpaid and write why.",
                amount=format_yuan(unpaid),
            )
        )
    if unpaid and not resolution:
        raise DomainError(_l("Write why the approved advance relief stays unpaid."))
    _touch(ticket, now, expected_version)
    if resolution:
        ticket.resolution = resolution
    if ticket.resolved_at is None:
        ticket.resolved_at = now
    ticket.status = "closed"
    ticket.closed_at = now
    add_event(ticket, actor, "closed", now, resolution=resolution, **({"unpaid_relief_fen": unpaid} if unpaid else {}))
    clocks.sync_ticket(ticket, now)


def reopen_ticket(
    ticket: Ticket, *, actor: User, now: datetime, reason: str, expected_version: int | None = None
) -> None:
    """Reopen a closed ticket (the caller is not satisfied, or the need came back), with a reason."""
    _require_ticket_role(actor)
    _require_status(ticket, ("closed",), _l("Only a closed ticket can be reopened."))
    reason = checked_text(reason, _l("Give a reason for reopening."))
    _touch(ticket, now, expected_version)
    ticket.status = "open" if ticket.first_contact_owner_id else "new"
    ticket.closed_at = None
    ticket.resolved_at = None
    add_event(ticket, actor, "reopened", now, reason=reason)
    if ticket.first_contact_owner_id != actor.id:
        # Anyone on the line may reopen a case; its owner has it back on their desk.
        notify(
            ticket.first_contact_owner_id,
            "ticket_reopened",
            now=now,
            ticket_id=ticket.id,
            by=actor.display_name,
            reason=reason,
        )
    clocks.sync_ticket(ticket, now)


def log_repeat_call(
    ticket: Ticket, *, actor: User, now: datetime, note: str | None = None, channel: str = "voice"
) -> Interaction:
    """Record another call from the same caller on their open ticket instead of a new ticket."""
    _require_ticket_role(actor)
    _require_status(ticket, OPEN_STATUSES, _l("Only an open ticket can take a repeat call."))
    note = checked_text(note, None, required=False)
    interaction = Interaction(
        channel=channel,
        direction="inbound",
        from_number=ticket.contact.phone if ticket.contact else None,
        contact_id=ticket.contact_id,
        ticket_id=ticket.id,
        status="completed",
        started_at=now,
        answered_at=now,
        ended_at=now,
        handled_by_id=actor.id,
    )
    db.session.add(interaction)
    ticket.updated_at = now
    add_event(ticket, actor, "repeat_call", now, note=note, channel=channel)
    return interaction


def unmask_contact(ticket: Ticket, *, actor: User, now: datetime, reason: str) -> None:
    """Record that ``actor`` looked at the caller's full phone and ID numbers, and why."""
    _require_ticket_role(actor)
    if ticket.contact is None:
        raise DomainError(_l("This ticket has no caller details."))
    reason = checked_text(reason, _l("Say why you need to see the full numbers."), limit=500)
    add_event(ticket, actor, "unmasked", now, reason=reason)


def checked_place(township_id: int | None, village_id: int | None) -> tuple[int | None, int | None]:
    """A caller's township and village, checked: the village must belong to the township.

    A village alone brings its township with it; a township that is not one, or
    a village under another township, is refused with a message for the user.
    """
    township = db.session.get(Department, township_id) if township_id else None
    if township_id and (township is None or township.level != "township"):
        raise DomainError(_l("Choose a township from the list."))
    if not village_id:
        return township_id, None
    village = db.session.get(Department, village_id)
    if village is None or village.level != "village":
        raise DomainError(_l("Choose a village or community from the list."))
    if township is None:
        return village.parent_id, village_id
    if village.parent_id != township.id:
        raise DomainError(
            _l(
                "%(village)s does not belong to %(township)s: choose its own township or another village.",
                village=village.name,
                township=township.name,
            )
        )
    return township_id, village_id


def update_contact(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    name: str | None,
    id_number: str | None,
    address: str | None,
    township_id: int | None,
    village_id: int | None,
    flags: dict[str, bool],
) -> None:
    """Correct or complete the caller's details from the ticket; the change is on the timeline."""
    _require_ticket_role(actor)
    contact = ticket.contact
    if contact is None:
        raise DomainError(_l("This ticket has no caller details."))
    township_id, village_id = checked_place(township_id, village_id)
    changed = []
    values = {
        "name": checked_text(name, None, required=False, limit=120),
        "id_number": checked_text(id_number, None, required=False, limit=32),
        "address": checked_text(address, None, required=False, limit=500),
        "township_id": township_id,
        "village_id": village_id,
        **{k: bool(v) for k, v in flags.items() if k in FLAGS},
    }
    for key, value in values.items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)
            changed.append(key)
    if not changed:
        return
    if contact.is_child and not ticket.sensitive:
        ticket.sensitive = True
        ticket.updated_at = now
    # Only the names of the fields go to the log: the values are personal data.
    add_event(ticket, actor, "contact_updated", now, fields=changed)
    if {"village_id", *FLAGS} & set(changed):
        # The household's visit plan (探访) follows its flags and village. Imported here: the visits package
        # receives its tickets through this service.
        from hotline.grid.visits import plan_household

        plan_household(contact, now=now, actor=actor)


def build_unclaimed_ticket(
    *,
    now: datetime,
    channel: str,
    summary: str,
    body: str | None = None,
    category: str = "other",
    priority: str = "P3",
    contact: Contact | None = None,
    contact_by: datetime | None = None,
    triage_reasons: tuple[str, ...] | None = None,
    triage_kind: str | None = None,
) -> Ticket:
    """A ticket that arrived with nobody on it, built but not stored: status ``new``, clocks started.

    ``triage_reasons`` (the words that matched; empty for a routine text)
    says ``priority`` and ``category`` came from triage of the text: they are
    kept as the suggestion an operator reviews, with ``triage_kind`` (the rule
    group, or ``model``).

    ``contact_by`` is a first contact promised to the person (the SMS answer
    says when to expect contact, a missed caller hears when the call-back will
    come): the first-contact clock runs to it when that is sooner.
    ``open_unclaimed_ticket`` builds it so, then numbers and stores it.
    """
    if channel not in CHANNELS:
        raise DomainError(_l("Unknown channel."))
    ticket = Ticket(
        channel=channel,
        contact_id=contact.id if contact else None,
        category=category,
        priority=priority,
        summary=(summary or "").strip()[:200] or "—",
        description=body,
        status="new",
        sensitive=bool(contact and contact.is_child),
        created_at=now,
        updated_at=now,
    )
    if triage_reasons is not None:
        ticket.triage_priority, ticket.triage_category = priority, category
        ticket.triage_reasons, ticket.triage_kind = list(triage_reasons), triage_kind
    if contact_by is not None and clocks.has_clock(priority, "first_contact"):
        # The clock starts now; a sooner promise replaces its deadline (sync keeps a deadline already set).
        ticket.first_contact_due_at = min(contact_by, sla.deadline(priority, "first_contact", now))
    clocks.sync_ticket(ticket, now)
    return ticket


def open_unclaimed_ticket(
    *,
    now: datetime,
    channel: str,
    phone: str | None,
    summary: str,
    body: str | None = None,
    category: str = "other",
    priority: str = "P3",
    contact_by: datetime | None = None,
    triage_reasons: tuple[str, ...] | None = None,
    triage_kind: str | None = None,
) -> Ticket:
    """A ticket that arrived with nobody on it (text message, missed call, API): status ``new``.

    It waits on the desk until an operator takes it and becomes its first-contact owner.
    ``contact_by``, ``triage_reasons``: see ``build_unclaimed_ticket``; the ticket is built
    by it, then stored by ``store_unclaimed_ticket``.
    """
    ticket = build_unclaimed_ticket(
        now=now,
        channel=channel,
        summary=summary,
        body=body,
        category=category,
        priority=priority,
        contact_by=contact_by,
        triage_reasons=triage_reasons,
        triage_kind=triage_kind,
    )
    return store_unclaimed_ticket(ticket, phone=phone, now=now)


def store_unclaimed_ticket(
    ticket: Ticket,
    *,
    now: datetime,
    phone: str | None = None,
    contact: Contact | None = None,
    also: tuple[tuple[str, dict], ...] = (),
) -> Ticket:
    """Store a ticket ``build_unclaimed_ticket`` built, with ``contact``, or the contact of ``phone`` (created
    if new). ``also``: (kind, payload) of events that follow ``created`` at ``now``, written with it in one
    INSERT (the SMS webhook's ``urgent_alert``).

    Apart from building so that a caller holding a write turn (the SMS webhook on
    SQLite) can build, clocks and all, before taking it. A child's contact makes
    the ticket sensitive.
    """
    raw = (phone or "").strip()
    e164 = normalize_phone(raw) if raw and contact is None else None
    if contact is not None:  # stored already (a reported person's record, just completed)
        ticket.contact_id, child = contact.id, contact.is_child
    elif e164:  # by id: the contact's row is not loaded for this
        ticket.contact_id, child = _phone_contact(e164, now=now)
    else:
        contact = get_or_create_contact(phone, now=now)
        ticket.contact, child = contact, bool(contact and contact.is_child)
    ticket.sensitive = bool(ticket.sensitive or child)
    _store_new_ticket(ticket, actor=None, now=now, also=also)
    return ticket


def _store_new_ticket(
    ticket: Ticket, *, actor: User | None, now: datetime, also: tuple[tuple[str, dict], ...] = (), **created
) -> None:
    """Number ``ticket``, store it and write its ``created`` event: the one way a ticket comes to be
    (``log_call`` for an operator's call, ``open_unclaimed_ticket`` for texts, missed calls and the API).
    ``created``: more of the event's payload; ``also``: (kind, payload) of the events that follow it, in the
    same INSERT."""
    ticket.number = next_ticket_number(now)
    ticket.version = 1  # the mapper's version counter starts where the ORM's INSERT would start it
    state = inspect(ticket)
    # One INSERT of the columns the ticket was built with (the table's defaults fill the rest), then the object
    # joins the session as the stored row: the ORM's flush would cost several times the INSERT on the SMS
    # webhook's first messages. A relationship set instead of its column (``ticket.contact``) is taken by id.
    for relationship in state.mapper.relationships:
        related = state.dict.get(relationship.key)
        if related is None or relationship.direction is not MANYTOONE:
            continue
        if inspect(related).key is None:  # a contact made in this transaction, not stored yet
            db.session.flush()
        for local, remote in relationship.local_remote_pairs:
            setattr(ticket, local.key, getattr(related, remote.key))
    values = {column.key: state.dict[column.key] for column in _TICKET.columns if column.key in state.dict}
    ticket.id = db.session.connection().execute(_INSERT_TICKET, values).scalar_one()
    make_transient_to_detached(ticket)
    db.session.add(ticket)
    payload = {"channel": ticket.channel, "priority": ticket.priority, "category": ticket.category, **created}
    actor_id = actor.id if actor else None
    insert_events(
        [
            event_row(ticket.id, "created", now, actor_id=actor_id, **payload),
            *(event_row(ticket.id, kind, now, actor_id=actor_id, **more) for kind, more in also),
        ]
    )
