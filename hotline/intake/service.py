"""Intake rules: calls and text messages become Interactions and tickets, once.

Every function takes plain values and an explicit ``now``, writes in the
current transaction and leaves the commit to the caller (the webhook view),
like the ticket service. Twilio retries webhooks, so every write is keyed by
the provider's SID behind a unique constraint: the first request writes, a
replay finds the row and writes nothing.

Nothing here calls out of the process: outbound messages go to the outbox.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.extensions import db
from hotline.intake.policy import IntakePolicy, Line
from hotline.privacy import normalize_phone
from hotline.tickets.service import add_event, get_or_create_contact, open_unclaimed_ticket
from models.contact import Contact
from models.duty import DutyLine
from models.interaction import Interaction
from models.ticket import OPEN_STATUSES, Ticket

#: Twilio call statuses that end a call.
CALL_ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
#: Longest stored phone-number text: anything longer is cut, flagged invalid, never refused.
RAW_NUMBER_MAX = 64
#: Twilio sends at most 10 media items with one message.
MEDIA_MAX = 10


def _insert(table):
    """``INSERT`` in the dialect that knows ``ON CONFLICT`` (PostgreSQL or SQLite)."""
    return (pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def _raw_number(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:RAW_NUMBER_MAX] or None


def open_ticket_of(contact_id: int | None) -> Ticket | None:
    """The caller's newest open ticket, however old: their calls and replies belong on it.

    Unlike the desk's repeat-call hint (``find_recent_open_ticket``, limited to
    recent tickets), a conversation by SMS may go on for days; the message
    still lands on the ticket the operator is texting from.
    """
    if contact_id is None:
        return None
    return db.session.scalar(
        select(Ticket)
        .where(Ticket.contact_id == contact_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )


# --- SMS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    """The fields of Twilio's inbound-SMS webhook that the hotline keeps."""

    sid: str
    from_number: str
    to_number: str | None
    body: str
    media_urls: tuple[str, ...] = ()


def receive_sms(msg: InboundMessage, *, now: datetime, policy: IntakePolicy) -> str:
    """Take in one text message and return the words to answer it with.

    - ``STOP``/``退订`` (and the other stop words) opts the number out of
      outbound SMS; ``START`` opts it back in. Neither opens a ticket.
    - A number with an open ticket: the message goes on that ticket's timeline.
    - Any other: a new ticket (channel sms, status new, no owner) that must be
      answered within the policy's default contact time.

    The message is stored as an inbound Interaction keyed by its MessageSid,
    with the answer; a replay returns that same answer and writes nothing.
    """
    word = msg.body.strip().upper()
    raw = _raw_number(msg.from_number)
    e164 = normalize_phone(raw) if raw else None
    # An unparseable number gets its contact (kept as given) with its ticket, never one per lookup.
    contact = get_or_create_contact(e164, now=now) if e164 else None
    ticket = open_ticket_of(contact.id if contact else None)
    if word in policy.stop_words or word in policy.start_words:
        opted_out = word in policy.stop_words
        if contact is not None:
            contact.sms_opt_out = opted_out
        if ticket is not None:
            add_event(ticket, None, "sms_opt_out" if opted_out else "sms_opt_in", now)
        reply = policy.opted_out if opted_out else policy.opted_in
    elif ticket is not None:
        add_event(ticket, None, "sms_in", now, text=msg.body, media=len(msg.media_urls))
        reply = policy.sms_open_ticket.format(number=ticket.number, within=policy.within(ticket.priority))
    else:
        ticket = open_unclaimed_ticket(
            now=now, channel="sms", phone=raw, summary=msg.body.strip().splitlines()[0] if word else "", body=msg.body
        )
        ticket.next_deadline_at = now + timedelta(minutes=policy.minutes_to_callback(ticket.priority))
        reply = policy.sms_new_ticket.format(number=ticket.number, within=policy.within(ticket.priority))
    inserted = db.session.execute(
        _insert(Interaction.__table__)
        .values(
            channel="sms",
            direction="inbound",
            provider_sid=msg.sid,
            from_number=raw,
            to_number=_raw_number(msg.to_number),
            number_invalid=bool(raw) and e164 is None,
            contact_id=ticket.contact_id if ticket else (contact.id if contact else None),
            ticket_id=ticket.id if ticket else None,
            status="received",
            started_at=now,
            body=msg.body,
            media_urls=list(msg.media_urls) or None,
            reply=reply,
        )
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(Interaction.id)
    ).scalar()
    if inserted is None:  # a replay: undo what this request wrote, answer as the first time
        db.session.rollback()
        return db.session.scalar(select(Interaction.reply).where(Interaction.provider_sid == msg.sid)) or ""
    return reply


# --- voice ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundCall:
    sid: str
    from_number: str
    to_number: str | None
    status: str | None = None


def start_call(call: InboundCall, *, now: datetime) -> Interaction:
    """Record a call as it reaches the line (idempotent by CallSid).

    A caller with an open ticket is a repeat call: the call is linked to that
    ticket and a ``repeat_call`` event goes on its timeline, once.
    """
    raw = _raw_number(call.from_number)
    call_id = db.session.execute(
        _insert(Interaction.__table__)
        .values(
            channel="voice",
            direction="inbound",
            provider_sid=call.sid,
            from_number=raw,
            to_number=_raw_number(call.to_number),
            number_invalid=bool(raw) and normalize_phone(raw) is None,
            status=(call.status or "ringing")[:24],
            started_at=now,
        )
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(Interaction.id)
    ).scalar()
    if call_id is None:
        return find_call(call.sid)
    interaction = db.session.get(Interaction, call_id)
    e164 = normalize_phone(raw) if raw else None
    # An unparseable number gets its contact (kept as given) only with a missed-call ticket.
    contact = get_or_create_contact(e164, now=now) if e164 else None
    if contact is not None:
        interaction.contact_id = contact.id
        ticket = open_ticket_of(contact.id)
        if ticket is not None:
            interaction.ticket_id = ticket.id
            add_event(ticket, None, "repeat_call", now, channel="voice")
    return interaction


def find_call(sid: str) -> Interaction | None:
    return db.session.scalar(select(Interaction).where(Interaction.provider_sid == sid))


def choose_line(sid: str, digit: str | None, *, policy: IntakePolicy) -> Line:
    """The caller pressed ``digit`` (or nothing): note the line on the call and return it."""
    line = policy.line_for_digit(digit)
    db.session.execute(update(Interaction).where(Interaction.provider_sid == sid).values(menu_choice=line.code))
    return line


def duty_lines() -> list[DutyLine]:
    """The lines on duty, in ring order."""
    return list(
        db.session.scalars(
            select(DutyLine).where(DutyLine.on_duty.is_(True)).order_by(DutyLine.position, DutyLine.id)
        )
    )


def leg_status(sid: str, status: str, *, duty_line_id: int | None, at: datetime) -> None:
    """An operator's phone reports ringing, answered (``in-progress``) or its end.

    The first answer makes the call answered by the operator of that duty line
    (a parallel ring connects one line only); until then, the leg's status is
    the call's status (ringing, no-answer, busy, failed), so the desk sees it.
    """
    if status in ("in-progress", "answered"):
        user_id = None
        if duty_line_id is not None:
            user_id = db.session.scalar(select(DutyLine.user_id).where(DutyLine.id == duty_line_id))
        db.session.execute(
            update(Interaction)
            .where(Interaction.provider_sid == sid, Interaction.answered_at.is_(None))
            .values(answered_at=at, handled_by_id=user_id, status="in-progress")
        )
    elif status != "completed":
        db.session.execute(
            update(Interaction)
            .where(Interaction.provider_sid == sid, Interaction.answered_at.is_(None), Interaction.ended_at.is_(None))
            .values(status=status[:24])
        )


def dial_completed(sid: str, *, at: datetime) -> None:
    """The Dial ended after someone talked with the caller: the call was answered (if not yet known)."""
    db.session.execute(
        update(Interaction)
        .where(Interaction.provider_sid == sid, Interaction.answered_at.is_(None))
        .values(answered_at=at)
    )


def call_status(sid: str, status: str, *, at: datetime, duration: int | None) -> Interaction | None:
    """Twilio reports the call's status (ringing, in-progress, completed, busy, no-answer, failed...)."""
    call = find_call(sid)
    if call is None:
        return None
    call.status = status[:24]
    if status == "in-progress" and call.answered_at is None and call.handled_by_id is not None:
        call.answered_at = at
    if status in CALL_ENDED:
        call.ended_at = call.ended_at or at
        if duration is not None:
            call.duration_seconds = duration
    return call


def mark_missed(sid: str, *, now: datetime, policy: IntakePolicy) -> Ticket | None:
    """Nobody answered the call: it gets a callback deadline on a ticket, once.

    A caller with an open ticket gets a ``missed_call`` event on it and its
    next deadline moves up to the callback deadline; any other caller gets a
    new missed-call ticket (status new, no owner). The deadline is the
    policy's callback time for the line the caller chose (urgent: 30 minutes).
    The compare-and-set on ``missed_at`` makes the Dial's end, the caller
    hanging up and their replays write it once between them.
    """
    claimed = db.session.execute(
        update(Interaction)
        .where(
            Interaction.provider_sid == sid,
            Interaction.missed_at.is_(None),
            Interaction.answered_at.is_(None),
        )
        .values(missed_at=now)
    ).rowcount
    if claimed != 1:
        return None
    call = find_call(sid)
    db.session.refresh(call)
    line = policy.line(call.menu_choice)
    deadline = now + timedelta(minutes=policy.minutes_to_callback(line.priority))
    ticket = db.session.get(Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is None or not ticket.is_open:
        ticket = open_unclaimed_ticket(
            now=now, channel="voice", phone=call.from_number, summary=line.missed_summary, priority=line.priority
        )
        call.ticket_id = ticket.id
        call.contact_id = ticket.contact_id
    if ticket.next_deadline_at is None or ticket.next_deadline_at > deadline:
        ticket.next_deadline_at = deadline
    ticket.updated_at = now
    minutes = policy.minutes_to_callback(line.priority)
    add_event(ticket, None, "missed_call", now, line=line.code, minutes=minutes, callback_by=deadline.isoformat())
    return ticket


def attach_recording(sid: str, *, recording_sid: str, url: str, seconds: int | None, now: datetime) -> bool:
    """A voicemail was recorded: keep its address and length on the call, once per RecordingSid.

    Returns False when the call is unknown or already has this recording.
    """
    attached = db.session.execute(
        update(Interaction)
        .where(Interaction.provider_sid == sid, Interaction.recording_sid.is_(None))
        .values(recording_sid=recording_sid, recording_url=url[:512], recording_seconds=seconds)
    ).rowcount
    if attached != 1:
        return False
    ticket_id = db.session.scalar(select(Interaction.ticket_id).where(Interaction.provider_sid == sid))
    if ticket_id is not None:
        ticket = db.session.get(Ticket, ticket_id)
        add_event(ticket, None, "voicemail", now, url=url[:512], seconds=seconds)
    return True


def contact_for(phone: str) -> Contact | None:
    e164 = normalize_phone(phone)
    return db.session.scalar(select(Contact).where(Contact.phone == e164)) if e164 else None
