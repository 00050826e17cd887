"""Intake rules: calls and text messages become Interactions and tickets, once.

Every function takes plain values and an explicit ``now``. All but
:func:`receive_sms` write in the current transaction and leave the commit to
the caller (the webhook view), like the ticket service; :func:`receive_sms`
commits its own short transactions, because a valid number's text is written
outside the session (``_write_message``). Twilio retries webhooks, so every
write is keyed by the provider's SID behind a unique constraint: the first
request writes, a replay finds the row and writes nothing.

Nothing here calls out of the process: outbound messages go to the outbox.

Every text (but a stop or start word) is triaged (``hotline.triage``) before
its write transaction: a first message's ticket takes the triaged priority
and category, kept as the suggestion an operator reviews; a text triaged P0
is answered with where to call at once; a text triaged P0 or P1 alerts the
duty phones through the outbox, once per ticket.
"""

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.escalation import clocks
from hotline.extensions import db
from hotline.intake.policy import IntakePolicy, Line
from hotline.notify.service import enqueue_sms
from hotline.policy import catalogue
from hotline.privacy import normalize_phone
from hotline.tickets.service import (
    add_event,
    build_unclaimed_ticket,
    get_or_create_contact,
    open_unclaimed_ticket,
    ticket_number,
)
from hotline.timeutil import local_date
from hotline.triage import Triage, triage_text
from hotline.user_notifications import CALLER_REPLIED
from models.contact import Contact
from models.duty import DutyLine
from models.interaction import Interaction
from models.ticket import OPEN_STATUSES, URGENT_PRIORITIES, Ticket, TicketEvent, TicketSequence

log = logging.getLogger(__name__)

#: Twilio call statuses that end a call.
CALL_ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
#: Longest stored phone-number text: anything longer is cut, flagged invalid, never refused.
RAW_NUMBER_MAX = 64
#: Twilio sends at most 10 media items with one message.
MEDIA_MAX = 10


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


# Statements built once and run as plain Core (no ORM unit of work, no reload).
_INSERT_EVENT = insert(TicketEvent.__table__)
_SET_OPT_OUT = update(Contact.__table__).where(Contact.__table__.c.id == bindparam("contact_id"))


def _sender(conn, e164: str | None) -> tuple:
    """(contact id, is a child, open ticket id, its number, its priority, its triaged priority, its owner id)
    of a phone; Nones when unknown.

    The caller's newest open ticket, however old: their calls and replies
    belong on it. (The desk's repeat-call hint, ``find_recent_open_ticket``,
    only offers recent tickets; a conversation by SMS may go on for days.)
    """
    row = conn.exec_driver_sql(_raw_sms(conn.dialect).sql["sender"], {"phone": e164}).first() if e164 else None
    return (row[0], bool(row[1]), *row[2:]) if row else (None, False, None, None, None, None, None)


def _by_dialect(build) -> dict:
    return {"postgresql": build(pg_insert), "sqlite": build(sqlite_insert)}


_INTERACTION_BY_SID = _by_dialect(
    lambda dialect_insert: (
        dialect_insert(Interaction.__table__)
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(Interaction.__table__.c.id)
    )
)


def _triaged(body: str) -> tuple[str, str, tuple[str, ...]]:
    """(priority, category, reasons) of a text: its triage (categories checked against the catalogue at start)."""
    triage: Triage = triage_text(body)
    return triage.priority, triage.category, triage.reasons


def _sms_ticket(body: str, now: datetime, policy: IntakePolicy, triage: tuple) -> Ticket:
    """The ticket a first message opens, built (clocks and all) by the ticket service, not yet stored.

    Its priority and category are the triaged ones, kept as the suggestion; the
    first contact is promised within the callback time of that priority.
    """
    priority, category, reasons = triage
    summary = body.strip().splitlines()[0] if body.strip() else ""
    by = now + timedelta(minutes=policy.minutes_to_callback(priority))
    return build_unclaimed_ticket(
        now=now,
        channel="sms",
        summary=summary,
        body=body,
        category=category,
        priority=priority,
        contact_by=by,
        triage_reasons=reasons,
    )


def _answer(policy: IntakePolicy, priority: str, number: str, *, new: bool) -> str:
    """The words a text is answered with: where to call at once when triaged P0, else the ticket's number."""
    if priority == "P0":
        return policy.sms_danger.format(number=number, within=policy.within("P0"))
    text = policy.sms_new_ticket if new else policy.sms_open_ticket
    return text.format(number=number, within=policy.within(priority))


# Text messages from a valid number, the webhook's work, run as plain SQL on the driver's own
# connection: SQLAlchemy's execution layer (Core and session) cost twice the database's own work
# there (measured with bench/intake.sh). The SQL is written once per dialect; values go through
# the columns' own defaults and bind processors, so they are stored exactly as the ORM stores them.
_OPEN = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
_RAW_SQL = {
    # The sender's contact and newest open ticket (the statuses are the model's constants, not input).
    "sender": "SELECT c.id, c.is_child, t.id, t.number, t.priority, t.triage_priority, t.first_contact_owner_id"  # noqa: S608
    f" FROM contact c LEFT JOIN ticket t ON t.contact_id = c.id AND t.status IN ({_OPEN}) WHERE c.phone = :phone"
    " ORDER BY t.created_at DESC, t.id DESC LIMIT 1",
    "event": "INSERT INTO ticket_event (ticket_id, kind, payload, at) VALUES (:ticket_id, :kind, :payload, :at)",
    # Whether a ticket's duty phones were alerted already (once per ticket).
    "alerted": "SELECT 1 FROM ticket_event WHERE ticket_id = :ticket_id AND kind = 'urgent_alert' LIMIT 1",
    # A caller's reply on an owned ticket: unread on the owner's desk until they open the ticket.
    "replied": "INSERT INTO notification (user_id, ticket_id, kind, payload, created_at)"  # noqa: S608
    f" VALUES (:user_id, :ticket_id, '{CALLER_REPLIED}', :payload, :at)",
    # A follow-up triaged more urgent than its ticket: the new suggestion, to review (the priority stays).
    "raise": "UPDATE ticket SET triage_priority = :priority, triage_category = :category, triage_reasons = :reasons,"
    " triage_verdict = NULL, triage_reviewed_at = NULL, updated_at = :at, version = version + 1 WHERE id = :ticket_id",
    "interaction": (
        "INSERT INTO interaction (channel, direction, provider_sid, from_number, to_number, number_invalid,"
        " contact_id, ticket_id, status, started_at, body, media_urls, reply) VALUES ('sms', 'inbound', :sid,"
        " :from_number, :to_number, :number_invalid, :contact_id, :ticket_id, 'received', :at, :body, :media, :reply)"
        " ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
    ),
    "reply": "SELECT reply FROM interaction WHERE provider_sid = :sid",
    "contact": "INSERT INTO contact ({columns}) VALUES ({values}) ON CONFLICT (phone) DO NOTHING RETURNING id",
    "contact_id": "SELECT id FROM contact WHERE phone = :phone",
    "number": (
        "INSERT INTO ticket_sequence (day, last_value) VALUES (:day, 1)"
        " ON CONFLICT (day) DO UPDATE SET last_value = ticket_sequence.last_value + 1 RETURNING last_value"
    ),
    "ticket": "INSERT INTO ticket ({columns}) VALUES ({values}) RETURNING id",
}
_RAW_PG = {
    **{
        name: sql.replace(":payload", ":payload::json")
        .replace(":media", ":media::json")
        .replace(":reasons", ":reasons::json")
        for name, sql in _RAW_SQL.items()
    },
    "lock": "SELECT pg_advisory_xact_lock(hashtext(:phone))",
}


class _RawRow:
    """Every column of ``table`` but ``id``, for one INSERT: its column list, and the conversion of a row's
    values as SQLAlchemy would do it (a column's scalar default for a missing value, then its type's bind
    processor)."""

    def __init__(self, table, dialect):
        self.columns = [column for column in table.columns if column.key != "id"]
        self.names = ", ".join(dialect.identifier_preparer.quote(column.name) for column in self.columns)
        self.params = ", ".join(f":{column.key}" for column in self.columns)
        self.convert = [
            (
                column.key,
                _converter(column.type, dialect),
                column.default.arg if column.default is not None and column.default.is_scalar else None,
            )
            for column in self.columns
        ]

    def values(self, row: dict) -> dict:
        out = {}
        for key, convert, default in self.convert:
            value = row.get(key)
            value = default if value is None else value
            out[key] = None if value is None else convert(value)
        return out


class _RawSms:
    """The webhook's statements and value converters for one database dialect."""

    def __init__(self, dialect):
        self.sqlite = dialect.name == "sqlite"
        self.contact = _RawRow(Contact.__table__, dialect)
        self.ticket = _RawRow(Ticket.__table__, dialect)
        sql = dict(_RAW_SQL if self.sqlite else _RAW_PG)
        sql["contact"] = sql["contact"].format(columns=self.contact.names, values=self.contact.params)
        sql["ticket"] = sql["ticket"].format(columns=self.ticket.names, values=self.ticket.params)
        # sqlite3 takes :name parameters as written; psycopg takes %(name)s.
        self.sql = sql if self.sqlite else {k: re.sub(r"(?<!:):(\w+)", r"%(\1)s", v) for k, v in sql.items()}
        self.stamp = _converter(Interaction.__table__.c.started_at.type, dialect)
        self.json = _converter(TicketEvent.__table__.c.payload.type, dialect)
        self.flag = _converter(Interaction.__table__.c.number_invalid.type, dialect)
        self.day = _converter(TicketSequence.__table__.c.day.type, dialect)


def _converter(type_, dialect):
    """The column type's own conversion of a Python value for ``dialect`` (none: the value as it is)."""
    return type_.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


_RAW: dict[str, _RawSms] = {}


def _raw_sms(dialect) -> _RawSms:
    """The plain-SQL statements for ``dialect``, built on first use."""
    return _RAW.get(dialect.name) or _RAW.setdefault(dialect.name, _RawSms(dialect))


def _alert_event(cursor, sql: "_RawSms", ticket_id: int, priority: str, at) -> int:
    """The ``urgent_alert`` event of a ticket, written once in its life: the duty phones are texted after the
    commit (``_text_duty_phones``). Returns the ticket's id."""
    payload = sql.json({"priority": priority})
    cursor.execute(sql.sql["event"], {"ticket_id": ticket_id, "kind": "urgent_alert", "payload": payload, "at": at})
    return ticket_id


def _write_message(
    msg: InboundMessage,
    raw: str,
    e164: str,
    now: datetime,
    policy: IntakePolicy,
    triage: tuple,
    new: Ticket | None,
) -> tuple[str, int | None] | None:
    """Store the message of a valid number and commit; return (the answer, the id of a ticket whose duty
    phones are to be alerted, or None), or None to be called again with ``new``.

    One short transaction on a pooled driver connection. A sender with an open
    ticket: the ``sms_in`` event on its newest one; its owner, if any, gets a
    ``caller_replied`` notification; when the text was ``triage``d P0/P1, more
    urgent than the ticket and than its suggestion so far, the suggestion is
    replaced (a ``triage_raised`` event; the priority stays the operator's).
    Any other sender: ``new`` (built by ``_sms_ticket`` outside the write
    turn) is numbered and stored, with the contact when the number is new;
    without ``new``, nothing is written and None comes back. Then the
    Interaction keyed by MessageSid: a replay finds it, undoes the rest and
    gets the first answer back (and alerts nobody). On SQLite the transaction
    starts with ``BEGIN IMMEDIATE``, so what was found (an open ticket, a
    contact) is still so when this request writes; on PostgreSQL a lock on the
    phone number keeps two first messages of one person from opening two
    tickets.
    """
    engine = db.engine
    sql = _raw_sms(engine.dialect)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if sql.sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute(sql.sql["lock"], {"phone": e164})
        cursor.execute(sql.sql["sender"], {"phone": e164})
        row = cursor.fetchone() or (None, False, None, None, None, None, None)
        contact_id, is_child, ticket_id, number, priority, suggested, owner_id = row
        at = sql.stamp(now)
        alert = None
        if ticket_id is not None:
            payload = sql.json({"text": msg.body, "media": len(msg.media_urls)})
            cursor.execute(sql.sql["event"], {"ticket_id": ticket_id, "kind": "sms_in", "payload": payload, "at": at})
            if owner_id is not None:
                replied = {"user_id": owner_id, "ticket_id": ticket_id, "payload": sql.json({}), "at": at}
                cursor.execute(sql.sql["replied"], replied)
            level, category, reasons = triage
            if level in URGENT_PRIORITIES and level < priority and (suggested is None or level < suggested):
                raised = {"priority": level, "category": category, "reasons": sql.json(list(reasons))}
                cursor.execute(sql.sql["raise"], {**raised, "at": at, "ticket_id": ticket_id})
                payload = sql.json({**raised, "reasons": list(reasons)})
                event = {"ticket_id": ticket_id, "kind": "triage_raised", "payload": payload, "at": at}
                cursor.execute(sql.sql["event"], event)
                cursor.execute(sql.sql["alerted"], {"ticket_id": ticket_id})
                if cursor.fetchone() is None:
                    alert = _alert_event(cursor, sql, ticket_id, level, at)
            reply = _answer(policy, level, number, new=False)
        elif new is None:
            connection.rollback()
            return None
        else:
            if contact_id is None:
                cursor.execute(sql.sql["contact"], sql.contact.values({"phone": e164, "created_at": now}))
                created = cursor.fetchone()
                if created is None:  # another request created it a moment ago (PostgreSQL)
                    cursor.execute(sql.sql["contact_id"], {"phone": e164})
                    created = cursor.fetchone()
                contact_id = created[0]
            day = local_date(now)
            cursor.execute(sql.sql["number"], {"day": sql.day(day)})
            number = ticket_number(day, cursor.fetchone()[0])
            row = {column.key: getattr(new, column.key) for column in sql.ticket.columns}
            row |= {"contact_id": contact_id, "sensitive": bool(is_child), "number": number, "version": 1}
            cursor.execute(sql.sql["ticket"], sql.ticket.values(row))
            ticket_id = cursor.fetchone()[0]
            payload = sql.json({"channel": new.channel, "priority": new.priority, "category": new.category})
            cursor.execute(sql.sql["event"], {"ticket_id": ticket_id, "kind": "created", "payload": payload, "at": at})
            if new.triage_priority in URGENT_PRIORITIES:
                alert = _alert_event(cursor, sql, ticket_id, new.triage_priority, at)
            reply = _answer(policy, new.priority, number, new=True)
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
            return (first[0] if first else None) or "", None
        connection.commit()
        return reply, alert
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def receive_sms(msg: InboundMessage, *, now: datetime, policy: IntakePolicy, turn=nullcontext) -> str:
    """Take in one text message, commit it, and return the words to answer it with.

    - ``STOP``/``退订`` (and the other stop words) opts the number out of
      outbound SMS; ``START`` opts it back in. Neither opens a ticket.
    - Any other text is triaged first (outside the write turns).
    - A number with an open ticket: the message goes on that ticket's
      timeline, its owner is notified, and a text triaged P0/P1 above the
      ticket's priority becomes its suggestion (see ``_write_message``).
    - Any other: a new ticket (channel sms, status new, no owner) with the
      triaged priority and category; the answer promises contact within the
      policy's time for that priority, and the ticket's first-contact deadline
      is held to that promise. An unparseable number gets its contact (kept
      as given) with the ticket, never one per message.
    - A text triaged P0 is answered with where to call at once; one triaged
      P0/P1 that raised an alert texts the duty phones through the outbox,
      right after it is stored (``_text_duty_phones``).

    The message is stored as an inbound Interaction keyed by its MessageSid,
    with the answer; a replay returns that same answer and writes nothing.
    Unlike the other services, this one commits: the webhook is the hot path,
    and a valid number's message is written outside the session
    (``_write_message``). ``turn()`` is held around each write transaction,
    and only there (the webhook passes SQLite's write turn,
    ``hotline.intake.writelock``): a first message's ticket is built, clocks
    and all, between two turns.
    """
    word = msg.body.strip().upper()
    raw = _raw_number(msg.from_number)
    e164 = normalize_phone(raw) if raw else None
    if word in policy.stop_words or word in policy.start_words:
        with turn():
            reply, _alert = _receive_sms_in_session(msg, raw, e164, word, now=now, policy=policy, triage=None)
            db.session.commit()
        return reply
    triage = _triaged(msg.body)
    if e164 is not None:
        with turn():
            written = _write_message(msg, raw, e164, now, policy, triage, None)
        if written is None:  # no open ticket: build one while others write, then store it in a turn of its own
            new = _sms_ticket(msg.body, now, policy, triage)
            with turn():
                written = _write_message(msg, raw, e164, now, policy, triage, new)
        reply, alert = written
    else:
        with turn():
            reply, alert = _receive_sms_in_session(msg, raw, e164, word, now=now, policy=policy, triage=triage)
            db.session.commit()
    if alert is not None:
        try:
            with turn():
                _text_duty_phones(alert, now=now, policy=policy)
                db.session.commit()
        except Exception:  # the text is stored and its alert is on every desk: answer the caller all the same
            db.session.rollback()
            log.exception("SMS %s: the duty phones' alert for ticket %s could not be queued", msg.sid, alert)
    return reply


def _text_duty_phones(ticket_id: int, *, now: datetime, policy: IntakePolicy) -> None:
    """Queue the duty alert of an urgent text to every on-duty phone of the roster, in the outbox.

    The caller's words are not in it: the number, priority and category send
    the operator to the desk, where the text is.
    """
    ticket = db.session.get(Ticket, ticket_id)
    category = catalogue().get(ticket.triage_category)
    body = policy.duty_alert.format(
        number=ticket.number,
        priority=ticket.triage_priority,
        category=category.zh if category else ticket.triage_category,
    )
    phones = db.session.scalars(
        select(DutyLine.phone)
        .where(DutyLine.on_duty.is_(True), DutyLine.phone.is_not(None))
        .distinct()
        .order_by(DutyLine.phone)
    )
    for phone in phones:
        enqueue_sms(to=phone, body=body, now=now, ticket=ticket)


def _receive_sms_in_session(
    msg: InboundMessage, raw, e164, word: str, *, now: datetime, policy: IntakePolicy, triage: tuple | None
) -> tuple[str, int | None]:
    """``receive_sms`` for a stop or start word (``triage`` None), or a sender whose number does not parse:
    on the session. Returns the answer and the id of a ticket whose duty phones are to be alerted, or None."""
    session = db.session
    conn = session.connection()  # plain Core on the session's transaction: no ORM execution layer
    if e164 and conn.dialect.name == "postgresql":
        # Two first messages of one person at once must not open two tickets (SQLite has one writer anyway).
        conn.exec_driver_sql(_raw_sms(conn.dialect).sql["lock"], {"phone": e164})
    contact_id, _child, ticket_id, *_ticket = _sender(conn, e164)
    alert = None
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
    else:
        # An unparseable number (it has no open ticket to find), kept as given on a contact of its own,
        # through the ticket service.
        priority, category, reasons = triage
        summary = msg.body.strip().splitlines()[0] if word else ""
        ticket = open_unclaimed_ticket(
            now=now,
            channel="sms",
            phone=raw,
            summary=summary,
            body=msg.body,
            category=category,
            priority=priority,
            contact_by=now + timedelta(minutes=policy.minutes_to_callback(priority)),
            triage_reasons=reasons,
        )
        ticket_id, contact_id, number = ticket.id, ticket.contact_id, ticket.number
        if priority in URGENT_PRIORITIES:
            alert = ticket_id
            add_event(ticket, None, "urgent_alert", now, priority=priority)
        reply = _answer(policy, priority, number, new=True)
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
        return session.scalar(select(Interaction.reply).where(Interaction.provider_sid == msg.sid)) or "", None
    return reply, alert


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
    contact_id, _child, ticket_id, *_ticket = _sender(conn, e164)
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
