"""Intake rules: calls and text messages become Interactions and tickets, once.

Every function takes plain values and an explicit ``now``. All but
:func:`receive_sms` write in the current transaction and leave the commit to
the caller (the webhook view), like the ticket service; :func:`receive_sms`
commits its own short transactions, because the follow-up of a sender with an
open ticket is written outside the session (``_write_follow_up``). Twilio retries webhooks, so every
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
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import String, and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from hotline.escalation import clocks
from hotline.extensions import DIALECT_INSERT, db
from hotline.fastsql import PerDialect
from hotline.intake.policy import IntakePolicy, Line
from hotline.notify.service import enqueue_sms
from hotline.policy import catalogue
from hotline.privacy import normalize_phone
from hotline.tickets.service import (
    EVENT_COLUMNS,
    add_event,
    build_unclaimed_ticket,
    event_row,
    get_or_create_contact,
    insert_events,
    open_unclaimed_ticket,
    store_unclaimed_ticket,
)
from hotline.triage import Triage, triage_text
from hotline.user_notifications import CALLER_REPLIED, NOTIFICATION_COLUMNS, notification_row
from models.contact import Contact
from models.duty import DutyLine
from models.interaction import Interaction
from models.notification import Notification
from models.ticket import OPEN_STATUSES, URGENT_PRIORITIES, Ticket, TicketEvent

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


_CONTACT, _TICKET, _EVENT = Contact.__table__, Ticket.__table__, TicketEvent.__table__
_INTERACTION, _NOTIFICATION = Interaction.__table__, Notification.__table__

#: A sender's contact and newest open ticket, however old: their calls and replies belong on it. (The desk's
#: repeat-call hint, ``find_recent_open_ticket``, only offers recent tickets; a conversation by SMS may go on
#: for days.)
_SENDER = (
    select(
        _CONTACT.c.id,
        _CONTACT.c.is_child,
        _TICKET.c.id,
        _TICKET.c.number,
        _TICKET.c.priority,
        _TICKET.c.triage_priority,
        _TICKET.c.first_contact_owner_id,
    )
    .select_from(
        _CONTACT.outerjoin(_TICKET, and_(_TICKET.c.contact_id == _CONTACT.c.id, _TICKET.c.status.in_(OPEN_STATUSES)))
    )
    .where(_CONTACT.c.phone == bindparam("phone", None, type_=_CONTACT.c.phone.type))
    .order_by(_TICKET.c.created_at.desc(), _TICKET.c.id.desc())
    .limit(1)
)
_NO_SENDER = (None, False, None, None, None, None, None)
#: PostgreSQL: a transaction's lock on a phone number, so two first messages of one person at once do not open
#: two tickets (SQLite has one writer anyway).
_LOCK = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("phone", None, String))))
#: How many times a text looks again for its sender's open ticket when one came or went while it looked.
FOLLOW_UP_ATTEMPTS = 3
_INTERACTION_COLUMNS = (
    "channel",
    "direction",
    "provider_sid",
    "from_number",
    "to_number",
    "number_invalid",
    "contact_id",
    "ticket_id",
    "status",
    "started_at",
    "body",
    "media_urls",
    "reply",
    "follow_up",
)


@cache
def _store_interaction(dialect_name: str):
    """The INSERT of an inbound message's Interaction that a replay (the same SID) turns into nothing."""
    return (
        DIALECT_INSERT[dialect_name](_INTERACTION)
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(_INTERACTION.c.id)
    )


def _inbound_row(channel: str, sid: str, raw, e164, to_number, *, status: str, contact_id, ticket_id, now, **more):
    """The values of an inbound call's or message's Interaction, keyed by the provider's SID."""
    return {
        "channel": channel,
        "direction": "inbound",
        "provider_sid": sid,
        "from_number": raw,
        "to_number": _raw_number(to_number),
        "number_invalid": bool(raw) and e164 is None,
        "contact_id": contact_id,
        "ticket_id": ticket_id,
        "status": status,
        "started_at": now,
        **more,
    }


def _interaction_row(msg: "InboundMessage", raw, e164, *, contact_id, ticket_id, now, reply, follow_up=None) -> dict:
    """The values of an inbound message's Interaction: the same on the webhook's fast path and the session's
    (``follow_up``: a text on the sender's open ticket, which its timeline shows from this row)."""
    return _inbound_row(
        "sms",
        msg.sid,
        raw,
        e164,
        msg.to_number,
        status="received",
        contact_id=contact_id,
        ticket_id=ticket_id,
        now=now,
        body=msg.body,
        media_urls=list(msg.media_urls) or None,
        reply=reply,
        follow_up=follow_up,
    )


# The webhook's statements for a sender with an open ticket, from the models' tables, compiled once per
# dialect and run on the driver's cursor (``hotline.fastsql``): SQLAlchemy's execution layer cost twice the
# database's own work there (measured with bench/intake.sh).
_FAST = {
    "sender": PerDialect(lambda _name: _SENDER),
    "event": PerDialect(lambda _name: insert(_EVENT), columns=EVENT_COLUMNS),
    # Whether a ticket's duty phones were alerted already (once per ticket).
    "alerted": PerDialect(
        lambda _name: (
            select(_EVENT.c.id)
            .where(_EVENT.c.ticket_id == bindparam("ticket_id", None, type_=_EVENT.c.ticket_id.type))
            .where(_EVENT.c.kind == "urgent_alert")
            .limit(1)
        )
    ),
    # A caller's reply on an owned ticket: unread on the owner's desk until they open the ticket.
    "replied": PerDialect(lambda _name: insert(_NOTIFICATION), columns=NOTIFICATION_COLUMNS),
    # A follow-up triaged more urgent than its ticket: the new suggestion, to review (the priority stays).
    "raise": PerDialect(
        lambda _name: (
            update(_TICKET)
            .where(_TICKET.c.id == bindparam("ticket_id", type_=_TICKET.c.id.type))
            .values(
                triage_priority=bindparam("priority", type_=_TICKET.c.triage_priority.type),
                triage_category=bindparam("category", type_=_TICKET.c.triage_category.type),
                triage_reasons=bindparam("reasons", type_=_TICKET.c.triage_reasons.type),
                triage_kind=bindparam("kind", type_=_TICKET.c.triage_kind.type),
                triage_verdict=None,
                triage_reviewed_at=None,
                updated_at=bindparam("at", type_=_TICKET.c.updated_at.type),
                version=_TICKET.c.version + 1,
            )
        )
    ),
    "interaction": PerDialect(_store_interaction, columns=_INTERACTION_COLUMNS),
    "reply": PerDialect(
        lambda _name: select(_INTERACTION.c.reply).where(
            _INTERACTION.c.provider_sid == bindparam("sid", None, type_=_INTERACTION.c.provider_sid.type)
        )
    ),
    "lock": PerDialect(lambda _name: _LOCK),
}


def _fast(name: str, dialect):
    return _FAST[name](dialect)


def _sender(conn, e164: str | None) -> tuple:
    """(contact id, is a child, open ticket id, its number, its priority, its triaged priority, its owner id)
    of a phone; Nones when unknown."""
    return _sender_row(conn.execute(_SENDER, {"phone": e164}).first() if e164 else None)


def _sender_row(row) -> tuple:
    """``_sender``'s tuple from the look-up's row (None: unknown)."""
    return (row[0], bool(row[1]), *row[2:]) if row else _NO_SENDER


def _lock_and_look_up(connection, dialect, e164: str) -> tuple | None:
    """PostgreSQL: the phone number's lock, then the look-up's row (or None), each on its own cursor of
    ``connection`` (in pipeline mode both go in one round trip; each result stays on its cursor)."""
    _fast("lock", dialect).execute(connection.cursor(), {"phone": e164})
    return _fast("sender", dialect).execute(connection.cursor(), {"phone": e164}).fetchone()


def _locked_sender(conn, e164: str | None) -> tuple:
    """``_sender`` in the session's transaction, after taking the phone number's lock on PostgreSQL (so that
    two first messages of one person do not open two tickets): the lock and the look-up go in one round trip
    (pipeline mode, on the driver's cursors, as the follow-up path sends them). SQLite needs no lock: the
    write turn is held."""
    if not e164:
        return _NO_SENDER
    if conn.dialect.name != "postgresql":
        return _sender(conn, e164)
    driver = conn.connection.dbapi_connection
    with driver.pipeline():
        return _sender_row(_lock_and_look_up(driver, conn.dialect, e164))


def _triaged(body: str) -> tuple[str, str, tuple[str, ...], str | None]:
    """(priority, category, reasons, kind) of a text: its triage (categories checked against the catalogue at
    start; kind: the rule group, or ``model``)."""
    triage: Triage = triage_text(body)
    return triage.priority, triage.category, triage.reasons, triage.kind


def _sms_ticket(body: str, now: datetime, policy: IntakePolicy, triage: tuple) -> Ticket:
    """The ticket a first message opens, built (clocks and all) by the ticket service, not yet stored.

    Its priority and category are the triaged ones, kept as the suggestion; the
    first contact is promised within the callback time of that priority. A
    blank text gets an empty summary (the service shows a dash).
    """
    priority, category, reasons, kind = triage
    summary = body.strip().splitlines()[0] if body.strip() else ""
    return build_unclaimed_ticket(
        now=now,
        channel="sms",
        summary=summary,
        body=body,
        category=category,
        priority=priority,
        contact_by=now + timedelta(minutes=policy.minutes_to_callback(priority)),
        triage_reasons=reasons,
        triage_kind=kind,
    )


def _answer(policy: IntakePolicy, priority: str, number: str, *, new: bool) -> str:
    """The words a text is answered with: where to call at once when triaged P0, else the ticket's number."""
    if priority == "P0":
        return policy.sms_danger.format(number=number, within=policy.within("P0"))
    text = policy.sms_new_ticket if new else policy.sms_open_ticket
    return text.format(number=number, within=policy.within(priority))


@dataclass(frozen=True)
class _Held:
    """PostgreSQL: a sender with no open ticket, found by ``_write_follow_up`` on the kept connection, whose
    transaction stays open with the phone number's lock for the new ticket to be written in
    (``_receive_sms_in_session``): no rollback, no second lock and look-up, no second connection."""

    #: ``_sender``'s tuple of the look-up: the contact (if any), no open ticket.
    sender: tuple


def _write_follow_up(
    msg: InboundMessage, raw: str, e164: str, now: datetime, policy: IntakePolicy, triage: tuple
) -> tuple[str, int | None] | _Held | None:
    """Store the text of a sender with an open ticket and commit; return (the answer, what the duty phones are
    to be alerted of, or None). When the sender has no open ticket nothing is written: None on SQLite; on
    PostgreSQL a ``_Held``, the kept connection's transaction left open with the number's lock.

    One short transaction on the driver connection this thread keeps (``_KeptConnection``), on the sender's
    newest open ticket: its owner, if any, gets a ``caller_replied`` notification;
    when the text was ``triage``d P0/P1, more urgent than the ticket and than its suggestion so far, the
    suggestion is replaced (a ``triage_raised`` event; the priority stays the operator's) and the duty
    phones are alerted if they never were for this ticket. Then the Interaction keyed by MessageSid, marked
    ``follow_up``: the text's one record, which the ticket's timeline shows (no event repeats it). A
    replay finds it, undoes the rest and gets the first answer back (and alerts nobody). On SQLite the
    transaction starts with ``BEGIN IMMEDIATE``, so the open ticket found is still open when this request
    writes; on PostgreSQL the phone number's lock keeps a first message of the same person from opening a
    second ticket meanwhile, and the statements go in pipeline mode: the lock with the look-up, the rows
    with the message's, each group in one round trip to the server.

    A kept connection that the server dropped meanwhile (a PostgreSQL restart) fails at once: the text is
    then written on a new connection, once. Writing it twice is harmless: the MessageSid makes the second
    a replay.
    """
    engine = db.engine
    for attempt in (1, 2):
        connection, reused = _KEPT.take(engine)
        try:
            return _follow_up_on(connection, engine.dialect, msg, raw, e164, now, policy, triage)
        except BaseException:
            broken = _KEPT.drop()
            if attempt == 1 and reused and broken:
                log.warning("SMS %s: the kept database connection was dropped by the server; a new one", msg.sid)
                continue
            raise
    raise AssertionError("unreachable")


def _follow_up_on(connection, dialect, msg, raw, e164, now, policy, triage):
    """``_write_follow_up`` on one driver connection."""
    sqlite = dialect.name == "sqlite"
    pipeline = nullcontext() if sqlite else connection.dbapi_connection.pipeline()
    with pipeline:
        cursor = connection.cursor()
        if sqlite:
            cursor.execute("BEGIN IMMEDIATE")
            row = _fast("sender", dialect).execute(cursor, {"phone": e164}).fetchone()
        else:
            row = _lock_and_look_up(connection, dialect, e164)
        contact_id, _child, ticket_id, number, priority, suggested, owner_id = row or _NO_SENDER
        if ticket_id is None:
            if sqlite:
                connection.rollback()
                return None
            return _Held(_sender_row(row))
        alert = None
        if owner_id is not None:
            replied = notification_row(owner_id, CALLER_REPLIED, now, ticket_id=ticket_id)
            _fast("replied", dialect).execute(cursor, replied)
        level, category, reasons, kind = triage
        if level in URGENT_PRIORITIES and level < priority and (suggested is None or level < suggested):
            raised = {"priority": level, "category": category, "reasons": list(reasons)}
            _fast("raise", dialect).execute(cursor, {**raised, "kind": kind, "at": now, "ticket_id": ticket_id})
            event = _fast("event", dialect)
            event.execute(cursor, event_row(ticket_id, "triage_raised", now, **raised))
            alerted = _fast("alerted", dialect).execute(connection.cursor(), {"ticket_id": ticket_id})
            if alerted.fetchone() is None:
                event.execute(cursor, event_row(ticket_id, "urgent_alert", now, priority=level))
                alert = (ticket_id, number, level, category)
        reply = _answer(policy, level, number, new=False)
        stored = _interaction_row(
            msg, raw, e164, contact_id=contact_id, ticket_id=ticket_id, now=now, reply=reply, follow_up=True
        )
        if _fast("interaction", dialect).execute(connection.cursor(), stored).fetchone() is None:  # a replay
            connection.rollback()
            first = _fast("reply", dialect).execute(connection.cursor(), {"sid": msg.sid}).fetchone()
            connection.rollback()
            return (first[0] if first else None) or "", None
        connection.commit()
        return reply, alert


class _KeptConnection(threading.local):
    """The fast path's driver connection, kept open by each thread (a gunicorn worker has one) from one text
    to the next instead of taken from the engine's pool and given back each time.

    The pool's checkout and return (events, reset, and on PostgreSQL the ping before each use) cost about a
    tenth of a follow-up text's time on SQLite and a round trip to the server on PostgreSQL. A connection
    that failed is closed and not used again. It belongs to the engine and the process that opened it:
    another application's engine, or a forked child, opens its own.
    """

    connection = None
    engine = None
    pid = None
    #: (``connection``, the SQLAlchemy Connection over it that a session runs on: ``bound``), made once for each.
    wrapper = None

    def take(self, engine) -> tuple:
        """(the connection, whether it was kept from an earlier text)."""
        if self.connection is not None and self.pid != os.getpid():
            self.connection = None  # the parent's, before a fork: never used, nor closed, by the child
        if self.connection is not None and self.engine is not engine:
            self.connection.close()  # another application's engine (tests make many): back to its pool
            self.connection = None
        if self.connection is not None:
            return self.connection, True
        self.connection, self.engine, self.pid = engine.raw_connection(), engine, os.getpid()
        return self.connection, False

    def bound(self) -> Connection:
        """An SQLAlchemy Connection over the kept driver connection, for the session to run a first message's
        transaction on (``_Held``). The session does not close it: it stays kept."""
        if self.wrapper is None or self.wrapper[0] is not self.connection:
            self.wrapper = (self.connection, Connection(self.engine, connection=self.connection))
        return self.wrapper[1]

    def drop(self) -> bool:
        """Close the kept connection after a failure; whether the driver found it broken (the server gone)."""
        self.wrapper = None
        connection, self.connection = self.connection, None
        if connection is None:
            return False
        driver = connection.dbapi_connection
        broken = bool(getattr(driver, "broken", False)) or bool(getattr(driver, "closed", False))
        try:
            connection.invalidate()  # closes the driver connection; the pool opens a new one for the next
        except Exception:
            log.exception("the fast path's database connection could not be closed")
        return broken


_KEPT = _KeptConnection()


def receive_sms(msg: InboundMessage, *, now: datetime, policy: IntakePolicy, turn=nullcontext) -> str:
    """Take in one text message, commit it, and return the words to answer it with.

    - ``STOP``/``退订`` (and the other stop words) opts the number out of
      outbound SMS; ``START`` opts it back in. Neither opens a ticket.
    - Any other text is triaged first (outside the write turns).
    - A number with an open ticket: the message goes on that ticket's
      timeline, its owner is notified, and a text triaged P0/P1 above the
      ticket's priority becomes its suggestion (``_write_follow_up``, below
      the ORM: most texts are follow-ups).
    - Any other: a new ticket (channel sms, status new, no owner) with the
      triaged priority and category, built and stored by the ticket service
      (``build_unclaimed_ticket``, ``store_unclaimed_ticket``; on PostgreSQL
      in the transaction of the look-up that found no open ticket:
      ``_receive_sms_held``); the answer promises contact within the
      policy's time for that priority, and the ticket's first-contact deadline
      is held to that promise. An unparseable number gets its contact (kept
      as given) with the ticket, never one per message.
    - A text triaged P0 is answered with where to call at once; one triaged
      P0/P1 that raised an alert texts the duty phones through the outbox,
      right after it is stored (``_text_duty_phones``).

    The message is stored as an inbound Interaction keyed by its MessageSid,
    with the answer; a replay returns that same answer and writes nothing.
    Unlike the other services, this one commits its own short transactions: the
    webhook is the hot path. ``turn()`` is held around each write transaction,
    and only there (the webhook passes SQLite's write turn,
    ``hotline.intake.writelock``).
    """
    word = msg.body.strip().upper()
    raw = _raw_number(msg.from_number)
    e164 = normalize_phone(raw) if raw else None
    command = word in policy.stop_words or word in policy.start_words
    triage = None if command else _triaged(msg.body)
    new = None
    for _attempt in range(FOLLOW_UP_ATTEMPTS):
        written = held = None
        if e164 is not None and not command:
            with turn():
                written = _write_follow_up(msg, raw, e164, now, policy, triage)
            if isinstance(written, _Held):
                held, written = written, None
        if written is not None:
            break
        # A stop or start word, a first message, or a number that does not parse. A first message's ticket, clocks
        # and all, is built once, before the write turn (on PostgreSQL while its number's lock is held).
        if triage is not None and new is None:
            new = _sms_ticket(msg.body, now, policy, triage)
        if held is not None:  # PostgreSQL: a first message, written in the transaction that looked it up
            with turn():
                written = _receive_sms_held(msg, raw, e164, word, now=now, policy=policy, new=new, held=held)
            if written is None:  # a ticket of this sender was opened meanwhile: a follow-up after all
                continue
        else:
            with turn():
                written = _receive_sms_in_session(msg, raw, e164, word, now=now, policy=policy, new=new)
                if written is None:  # a ticket of this sender was opened meanwhile: a follow-up after all
                    db.session.rollback()
                    continue
                db.session.commit()
        break
    else:
        raise RuntimeError(f"SMS {msg.sid}: the sender's open ticket came and went {FOLLOW_UP_ATTEMPTS} times")
    reply, alert = written
    if alert is not None:
        try:
            with turn():
                _text_duty_phones(alert, now=now, policy=policy)
                db.session.commit()
        except Exception:  # the text is stored and its alert is on every desk: answer the caller all the same
            db.session.rollback()
            log.exception("SMS %s: the duty phones' alert for ticket %s could not be queued", msg.sid, alert[1])
    return reply


_DUTY_PHONES = (
    select(DutyLine.phone)
    .where(DutyLine.on_duty.is_(True), DutyLine.phone.is_not(None))
    .distinct()
    .order_by(DutyLine.phone)
)


def _duty_phones() -> list[str]:
    """The phones of the lines on duty now (the roster's), each once."""
    return db.session.connection().scalars(_DUTY_PHONES).all()


def _text_duty_phones(alert: tuple, *, now: datetime, policy: IntakePolicy) -> None:
    """Queue the duty alert of an urgent text to every on-duty phone of the roster, in the outbox.

    ``alert``: the ticket's id, number, triaged priority and category. The
    caller's words are not in it: the number, priority and category send the
    operator to the desk, where the text is.
    """
    ticket_id, number, priority, category_code = alert
    phones = _duty_phones()
    if not phones:
        return
    category = catalogue().get(category_code)
    body = policy.duty_alert.format(
        number=number, priority=priority, category=category.zh if category else category_code
    )
    ticket = db.session.get(Ticket, ticket_id)
    for phone in phones:
        enqueue_sms(to=phone, body=body, now=now, ticket=ticket)


def _receive_sms_held(
    msg: InboundMessage, raw, e164, word: str, *, now: datetime, policy: IntakePolicy, new: Ticket, held: _Held
) -> tuple[str, tuple | None] | None:
    """A first message whose look-up (``_Held``) left the kept connection's transaction open with the phone
    number's lock: its ticket ``new`` is written and committed by the session on that same connection,
    so nobody else can open a ticket for the number meanwhile. A session already in a transaction (one
    request sharing it with another piece of work) cannot take the connection over: the look-up is then
    rolled back and the message goes the usual way (``_receive_sms_in_session``, its own lock and look-up;
    None when a ticket of the sender was opened meanwhile, as there). On any failure the session is rolled
    back and the kept connection dropped."""
    try:
        if db.session().in_transaction():
            _KEPT.connection.rollback()
            held = None
        written = _receive_sms_in_session(msg, raw, e164, word, now=now, policy=policy, new=new, held=held)
        if written is None:
            db.session.rollback()
        else:
            db.session.commit()
        return written
    except BaseException:
        try:
            db.session.rollback()
        except Exception:
            log.exception("SMS %s: the session could not be rolled back", msg.sid)
        _KEPT.drop()
        raise


def _receive_sms_in_session(
    msg: InboundMessage,
    raw,
    e164,
    word: str,
    *,
    now: datetime,
    policy: IntakePolicy,
    new: Ticket | None,
    held: _Held | None = None,
) -> tuple[str, tuple | None] | None:
    """``receive_sms`` on the session: a stop or start word (``new`` None), or a first message (or one from a
    number that does not parse) with ``new``, its ticket as ``_sms_ticket`` built it. Returns the answer and
    what the duty phones are to be alerted of, or None; or None alone when the sender has an open ticket
    after all (opened since ``_write_follow_up`` looked): the caller rolls back and takes it as a follow-up.
    ``held``: the session runs on the kept connection, in the transaction of that look-up (PostgreSQL)."""
    session = db.session
    if held is not None:
        conn = session.connection(bind_arguments={"bind": _KEPT.bound()})
        contact_id, _child, ticket_id, number, *_ticket = held.sender
    else:
        conn = session.connection()
        contact_id, _child, ticket_id, number, *_ticket = _locked_sender(conn, e164)
    alert = None
    if new is None:
        opted_out = word in policy.stop_words
        contact = session.get(Contact, contact_id) if contact_id is not None else None
        if e164 and contact is None:
            contact = get_or_create_contact(e164, now=now)
        if contact is not None:
            contact.sms_opt_out = opted_out
            contact_id = contact.id
        if ticket_id is not None:
            add_event(session.get(Ticket, ticket_id), None, "sms_opt_out" if opted_out else "sms_opt_in", now)
        reply = policy.opted_out if opted_out else policy.opted_in
    elif ticket_id is not None:  # opened since this request looked (an unparseable number has none to find)
        return None
    else:
        # A new ticket, through the ticket service; an unparseable number is kept as given on a contact of its own.
        # An urgent one is alerted on every desk (its ``urgent_alert`` event, written with ``created``) and, when
        # any line on duty has a phone, on those phones after the commit. The phones are looked up before the
        # ticket's number is issued: on PostgreSQL the number's row stays locked until the commit, so whatever
        # runs after it holds up every other first message.
        urgent = new.priority in URGENT_PRIORITIES
        phones = urgent and bool(_duty_phones())  # no second transaction when nobody is to be texted
        also = (("urgent_alert", {"priority": new.priority}),) if urgent else ()
        ticket = store_unclaimed_ticket(new, phone=raw, now=now, also=also)
        ticket_id, contact_id, number = ticket.id, ticket.contact_id, ticket.number
        if phones:
            alert = (ticket_id, number, ticket.triage_priority, ticket.triage_category)
        reply = _answer(policy, ticket.priority, number, new=True)
    stored = _interaction_row(msg, raw, e164, contact_id=contact_id, ticket_id=ticket_id, now=now, reply=reply)
    inserted = conn.execute(_store_interaction(conn.dialect.name), stored).scalar()
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
    status = (call.status or "ringing")[:24]
    row = _inbound_row(
        "voice", call.sid, raw, e164, call.to_number, status=status, contact_id=contact_id, ticket_id=ticket_id, now=now
    )
    call_id = conn.execute(_store_interaction(conn.dialect.name), row).scalar()
    if call_id is None:
        return find_call(call.sid)
    if ticket_id is not None:
        insert_events([event_row(ticket_id, "repeat_call", now, channel="voice")])
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
