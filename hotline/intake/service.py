"""Intake rules: calls and text messages become Interactions and tickets, once.

Every function takes plain values and an explicit ``now``, writes in the
current transaction and leaves the commit to the caller (the webhook view),
like the ticket service. Twilio retries webhooks, so every write is keyed by
the provider's SID behind a unique constraint: the first request writes, a
replay finds the row and writes nothing.

Nothing here calls out of the process: outbound messages go to the outbox.
"""

import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.escalation import clocks
from hotline.extensions import db
from hotline.intake.policy import IntakePolicy, Line
from hotline.privacy import normalize_phone
from hotline.tickets.service import (
    add_event,
    build_unclaimed_ticket,
    get_or_create_contact,
    next_ticket_number,
    open_unclaimed_ticket,
)
from models.contact import Contact
from models.duty import DutyLine
from models.interaction import Interaction
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent

#: Twilio call statuses that end a call.
CALL_ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
#: Longest stored phone-number text: anything longer is cut, flagged invalid, never refused.
RAW_NUMBER_MAX = 64
#: Twilio sends at most 10 media items with one message.
MEDIA_MAX = 10
#: Priority of a ticket opened by a text message until an operator triages it.
DEFAULT_PRIORITY = "P3"


def _raw_number(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:RAW_NUMBER_MAX] or None


# --- SMS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    """The fields of Twilio's inbound-SMS webhook that the hotline keeps."""

    sid: str
    from_number: str
    to_number: str | None
    body: str
    media_urls: tuple[str, ...] = ()


# The SMS webhook is the hot path: these statements are built once and run as plain Core
# (no ORM unit of work, no reload): one read, then the writes of one short transaction.
#: The sender's contact and their newest open ticket, in one indexed read. (The statuses are
#: spelled out as equalities: an IN list would be re-rendered into the SQL on every call.)
_SMS_SENDER = (
    select(Contact.id, Contact.is_child, Ticket.id, Ticket.number, Ticket.priority)
    .select_from(Contact)
    .outerjoin(Ticket, and_(Ticket.contact_id == Contact.id, or_(*(Ticket.status == s for s in OPEN_STATUSES))))
    .where(Contact.phone == bindparam("phone"))
    .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    .limit(1)
)
_LOCK_SENDER = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("phone"))))
_INSERT_EVENT = insert(TicketEvent.__table__)
_INSERT_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)
_SET_OPT_OUT = update(Contact.__table__).where(Contact.__table__.c.id == bindparam("contact_id"))
_TICKET_COLUMNS = tuple(c.key for c in Ticket.__table__.columns if c.key != "id")


def _sender(conn, e164: str | None) -> tuple:
    """(contact id, is a child, open ticket id, its number, its priority) of a phone; Nones when unknown.

    The caller's newest open ticket, however old: their calls and replies
    belong on it. (The desk's repeat-call hint, ``find_recent_open_ticket``,
    only offers recent tickets; a conversation by SMS may go on for days.)
    """
    row = conn.execute(_SMS_SENDER, {"phone": e164}).first() if e164 else None
    return tuple(row) if row else (None, False, None, None, None)


def _by_dialect(build) -> dict:
    return {"postgresql": build(pg_insert), "sqlite": build(sqlite_insert)}


_INTERACTION_BY_SID = _by_dialect(
    lambda dialect_insert: (
        dialect_insert(Interaction.__table__)
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(Interaction.__table__.c.id)
    )
)
_CONTACT_BY_PHONE = _by_dialect(
    lambda dialect_insert: (
        dialect_insert(Contact.__table__)
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Contact.__table__.c.id)
    )
)


def _sms_ticket(body: str, now: datetime, by: datetime) -> Ticket:
    """The ticket a first message opens, built (clocks and all) by the ticket service, not yet stored."""
    summary = body.strip().splitlines()[0] if body.strip() else ""
    return build_unclaimed_ticket(now=now, channel="sms", summary=summary, body=body, contact_by=by)


def _open_sms_ticket(conn, e164: str, contact_id: int | None, is_child: bool, ticket: Ticket, now: datetime):
    """Store ``ticket`` (from ``_sms_ticket``) and its contact with plain INSERTs; returns (ticket id,
    contact id, number, priority).

    The ticket was built before this request's turn to write, so the write transaction,
    which holds SQLite's one write lock, is a handful of short statements.
    """
    if contact_id is None:
        contact_id = conn.execute(_CONTACT_BY_PHONE[conn.dialect.name], {"phone": e164, "created_at": now}).scalar()
        if contact_id is None:  # another request created it a moment ago
            contact_id = conn.execute(select(Contact.id).where(Contact.phone == e164)).scalar_one()
    ticket.contact_id = contact_id
    ticket.sensitive = bool(is_child)
    ticket.number = next_ticket_number(now)
    values = {key: value for key in _TICKET_COLUMNS if (value := getattr(ticket, key)) is not None}
    ticket_id = conn.execute(_INSERT_TICKET, {**values, "version": 1}).scalar_one()
    payload = {"channel": ticket.channel, "priority": ticket.priority, "category": ticket.category}
    conn.execute(_INSERT_EVENT, {"ticket_id": ticket_id, "kind": "created", "payload": payload, "at": now})
    return ticket_id, contact_id, ticket.number, ticket.priority


# The common case, a message continuing a conversation, runs as plain SQL on the driver's own
# connection: SQLAlchemy's execution layer (Core and session) cost twice the database's own work
# there (measured with bench/intake.sh). The SQL is written once per dialect; values go through
# the columns' own bind processors, so they are stored exactly as the ORM stores them.
_OPEN = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
_RAW_SQL = {
    # The statuses are the model's constants, not input.
    "sender": "SELECT c.id, t.id, t.number, t.priority FROM contact c JOIN ticket t ON t.contact_id = c.id"  # noqa: S608
    f" AND t.status IN ({_OPEN}) WHERE c.phone = :phone ORDER BY t.created_at DESC, t.id DESC LIMIT 1",
    "event": "INSERT INTO ticket_event (ticket_id, kind, payload, at) VALUES (:ticket_id, 'sms_in', :payload, :at)",
    "interaction": (
        "INSERT INTO interaction (channel, direction, provider_sid, from_number, to_number, number_invalid,"
        " contact_id, ticket_id, status, started_at, body, media_urls, reply) VALUES ('sms', 'inbound', :sid,"
        " :from_number, :to_number, :number_invalid, :contact_id, :ticket_id, 'received', :at, :body, :media, :reply)"
        " ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
    ),
    "reply": "SELECT reply FROM interaction WHERE provider_sid = :sid",
}
_RAW_PG = {
    **{
        name: sql.replace(":payload", ":payload::json").replace(":media", ":media::json")
        for name, sql in _RAW_SQL.items()
    },
    "lock": "SELECT pg_advisory_xact_lock(hashtext(:phone))",
}


class _RawSms:
    """The hot path's statements and value converters for one database dialect."""

    def __init__(self, dialect):
        self.sqlite = dialect.name == "sqlite"
        sql = _RAW_SQL if self.sqlite else _RAW_PG
        # sqlite3 takes :name parameters as written; psycopg takes %(name)s.
        self.sql = sql if self.sqlite else {k: re.sub(r"(?<!:):(\w+)", r"%(\1)s", v) for k, v in sql.items()}
        self.stamp = _converter(Interaction.__table__.c.started_at.type, dialect)
        self.json = _converter(TicketEvent.__table__.c.payload.type, dialect)
        self.flag = _converter(Interaction.__table__.c.number_invalid.type, dialect)


def _converter(type_, dialect):
    """The column type's own conversion of a Python value for ``dialect`` (none: the value as it is)."""
    return type_.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


_RAW: dict[str, _RawSms] = {}


def _append_to_open_ticket(msg: InboundMessage, raw: str, e164: str, now: datetime, policy: IntakePolicy):
    """The message of a sender with an open ticket, on that ticket, committed; None for any other sender.

    One short transaction on a pooled driver connection: the sender's newest
    open ticket, the ``sms_in`` event, the Interaction keyed by MessageSid
    (a replay finds it, undoes the event and gets the first answer back).
    On SQLite the transaction starts with ``BEGIN IMMEDIATE``, so the ticket
    found open is still open when the message lands on it.
    """
    engine = db.engine
    sql = _RAW.get(engine.dialect.name) or _RAW.setdefault(engine.dialect.name, _RawSms(engine.dialect))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if sql.sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        else:  # two first messages of one person at once must not open two tickets
            cursor.execute(sql.sql["lock"], {"phone": e164})
        cursor.execute(sql.sql["sender"], {"phone": e164})
        row = cursor.fetchone()
        if row is None:
            connection.rollback()
            return None
        contact_id, ticket_id, number, priority = row
        at = sql.stamp(now)
        payload = sql.json({"text": msg.body, "media": len(msg.media_urls)})
        cursor.execute(sql.sql["event"], {"ticket_id": ticket_id, "payload": payload, "at": at})
        reply = policy.sms_open_ticket.format(number=number, within=policy.within(priority))
        cursor.execute(
            sql.sql["interaction"],
            {
                "sid": msg.sid,
                "from_number": raw,
                "to_number": _raw_number(msg.to_number),
                "number_invalid": sql.flag(False),
                "contact_id": contact_id,
                "ticket_id": ticket_id,
                "at": at,
                "body": msg.body,
                "media": sql.json(list(msg.media_urls)) if msg.media_urls else None,
                "reply": reply,
            },
        )
        if cursor.fetchone() is None:  # a replay
            connection.rollback()
            cursor.execute(sql.sql["reply"], {"sid": msg.sid})
            first = cursor.fetchone()
            connection.rollback()
            return (first[0] if first else None) or ""
        connection.commit()
        return reply
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def receive_sms(msg: InboundMessage, *, now: datetime, policy: IntakePolicy, turn=nullcontext) -> str:
    """Take in one text message, commit it, and return the words to answer it with.

    - ``STOP``/``退订`` (and the other stop words) opts the number out of
      outbound SMS; ``START`` opts it back in. Neither opens a ticket.
    - A number with an open ticket: the message goes on that ticket's timeline.
    - Any other: a new ticket (channel sms, status new, no owner); the answer
      promises contact within the policy's default time, and the ticket's
      first-contact deadline is held to that promise. An unparseable number
      gets its contact (kept as given) with the ticket, never one per message.

    The message is stored as an inbound Interaction keyed by its MessageSid,
    with the answer; a replay returns that same answer and writes nothing.
    Unlike the other services, this one commits: the webhook is the hot path,
    and its common case runs outside the session (``_append_to_open_ticket``).
    ``turn()`` is held around each write transaction, and only there (the
    webhook passes SQLite's write turn, ``hotline.intake.writelock``).
    """
    word = msg.body.strip().upper()
    raw = _raw_number(msg.from_number)
    e164 = normalize_phone(raw) if raw else None
    stop_or_start = word in policy.stop_words or word in policy.start_words
    if e164 is not None and not stop_or_start:
        with turn():
            reply = _append_to_open_ticket(msg, raw, e164, now, policy)
        if reply is not None:
            return reply
    by = now + timedelta(minutes=policy.minutes_to_callback(DEFAULT_PRIORITY))
    # Built while other requests write; used if the sender has no open ticket by the time this one writes.
    prepared = _sms_ticket(msg.body, now, by) if e164 is not None and not stop_or_start else None
    with turn():
        reply = _receive_sms_in_session(msg, raw, e164, word, prepared, now=now, policy=policy)
        db.session.commit()
    return reply


def _receive_sms_in_session(
    msg: InboundMessage, raw, e164, word: str, prepared: Ticket | None, *, now: datetime, policy: IntakePolicy
) -> str:
    """``receive_sms`` for a stop or start word, an unknown or unparseable sender: on the session."""
    session = db.session
    conn = session.connection()  # plain Core on the session's transaction: no ORM execution layer
    if e164 and conn.dialect.name == "postgresql":
        # Two first messages of one person at once must not open two tickets (SQLite has one writer anyway).
        conn.execute(_LOCK_SENDER, {"phone": e164})
    contact_id, is_child, ticket_id, number, priority = _sender(conn, e164)
    if word in policy.stop_words or word in policy.start_words:
        opted_out = word in policy.stop_words
        if e164 and contact_id is None:
            contact_id = get_or_create_contact(e164, now=now).id
        if contact_id is not None:
            conn.execute(_SET_OPT_OUT, {"contact_id": contact_id, "sms_opt_out": opted_out})
        if ticket_id is not None:
            kind = "sms_opt_out" if opted_out else "sms_opt_in"
            conn.execute(_INSERT_EVENT, {"ticket_id": ticket_id, "kind": kind, "payload": {}, "at": now})
        reply = policy.opted_out if opted_out else policy.opted_in
    elif ticket_id is not None:
        payload = {"text": msg.body, "media": len(msg.media_urls)}
        conn.execute(_INSERT_EVENT, {"ticket_id": ticket_id, "kind": "sms_in", "payload": payload, "at": now})
        reply = policy.sms_open_ticket.format(number=number, within=policy.within(priority))
    else:
        by = now + timedelta(minutes=policy.minutes_to_callback(DEFAULT_PRIORITY))
        if e164 is not None:
            ticket = prepared or _sms_ticket(msg.body, now, by)
            ticket_id, contact_id, number, priority = _open_sms_ticket(conn, e164, contact_id, is_child, ticket, now)
        else:  # kept as given on a contact of its own, through the ticket service
            summary = msg.body.strip().splitlines()[0] if word else ""
            ticket = open_unclaimed_ticket(
                now=now, channel="sms", phone=raw, summary=summary, body=msg.body, contact_by=by
            )
            ticket_id, contact_id, number, priority = ticket.id, ticket.contact_id, ticket.number, ticket.priority
        reply = policy.sms_new_ticket.format(number=number, within=policy.within(priority))
    inserted = conn.execute(
        _INTERACTION_BY_SID[conn.dialect.name],
        {
            "channel": "sms",
            "direction": "inbound",
            "provider_sid": msg.sid,
            "from_number": raw,
            "to_number": _raw_number(msg.to_number),
            "number_invalid": bool(raw) and e164 is None,
            "contact_id": contact_id,
            "ticket_id": ticket_id,
            "status": "received",
            "started_at": now,
            "body": msg.body,
            "media_urls": list(msg.media_urls) or None,
            "reply": reply,
        },
    ).scalar()
    if inserted is None:  # a replay: undo what this request wrote, answer as the first time
        session.rollback()
        return session.scalar(select(Interaction.reply).where(Interaction.provider_sid == msg.sid)) or ""
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
    ticket and a ``repeat_call`` event goes on its timeline, once. An
    unparseable number gets its contact (kept as given) only with a
    missed-call ticket, never one per call.
    """
    conn = db.session.connection()
    raw = _raw_number(call.from_number)
    e164 = normalize_phone(raw) if raw else None
    contact_id, _child, ticket_id, _number, _priority = _sender(conn, e164)
    if e164 and contact_id is None:
        contact_id = get_or_create_contact(e164, now=now).id
    call_id = conn.execute(
        _INTERACTION_BY_SID[conn.dialect.name],
        {
            "channel": "voice",
            "direction": "inbound",
            "provider_sid": call.sid,
            "from_number": raw,
            "to_number": _raw_number(call.to_number),
            "number_invalid": bool(raw) and e164 is None,
            "contact_id": contact_id,
            "ticket_id": ticket_id,
            "status": (call.status or "ringing")[:24],
            "started_at": now,
        },
    ).scalar()
    if call_id is None:
        return find_call(call.sid)
    if ticket_id is not None:
        payload = {"channel": "voice"}
        conn.execute(_INSERT_EVENT, {"ticket_id": ticket_id, "kind": "repeat_call", "payload": payload, "at": now})
    return db.session.get(Interaction, call_id)


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
        db.session.scalars(select(DutyLine).where(DutyLine.on_duty.is_(True)).order_by(DutyLine.position, DutyLine.id))
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
    """Nobody answered the call: the caller is owed a call-back by a deadline, written once.

    A caller with no open ticket gets a missed-call ticket (status new, no
    owner) whose first-contact deadline is the call-back deadline: the
    policy's time for the line the caller chose (urgent: 30 minutes). A caller
    with an open ticket gets a ``missed_call`` event on it, and its
    first-contact deadline moves up to the call-back deadline while nobody has
    reached them yet (once reached, the owner has the case in hand).
    The compare-and-set on ``missed_at`` makes the Dial's end, the caller
    hanging up and Twilio's replays write it once between them.
    """
    claimed = db.session.execute(
        update(Interaction)
        .where(
            Interaction.provider_sid == sid,
            Interaction.missed_at.is_(None),
            Interaction.answered_at.is_(None),
        )
        .values(missed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    call = find_call(sid)
    db.session.refresh(call)
    line = policy.line(call.menu_choice)
    minutes = policy.minutes_to_callback(line.priority)
    deadline = now + timedelta(minutes=minutes)
    ticket = db.session.get(Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is None or not ticket.is_open:
        ticket = open_unclaimed_ticket(
            now=now,
            channel="voice",
            phone=call.from_number,
            summary=line.missed_summary,
            priority=line.priority,
            contact_by=deadline,
        )
        call.ticket_id = ticket.id
        call.contact_id = ticket.contact_id
    else:
        ticket.updated_at = now
        if ticket.first_contact_at is None and (
            ticket.first_contact_due_at is None or ticket.first_contact_due_at > deadline
        ):
            ticket.first_contact_due_at = deadline
            clocks.sync_ticket(ticket, now)
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
