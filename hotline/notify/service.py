"""Outbound SMS through an outbox table: written in the request, sent later by a sender process.

Webhooks and views never call Twilio. They call ``enqueue_sms`` (or the
operator action ``text_caller``) inside their own transaction; ``send_due``,
run by the scheduler process every 10 seconds and by ``flask hotline
send-outbox`` (both through ``hotline.jobs.outbox``), claims the messages
that are due and sends each through ``twilio.rest.Client``. A message that
fails for a reason that may pass (timeout, network, Twilio 5xx or 429) is
retried with exponential backoff and given up after ``max_attempts``; one
Twilio refuses outright (4xx: bad number, unsubscribed) fails at once.
Failed messages are listed for admins.

Several senders may run at once (scheduler processes on several nodes sharing
one PostgreSQL): messages are claimed a few at a time, with a compare-and-set
update after ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so one sender sends
each; a claim lasts ``lease_seconds``, long enough for its few messages.

Twilio has no idempotency key for a new message, so the window between Twilio
accepting a message and the row saying so is closed by asking Twilio: a
message whose attempt may have reached Twilio (a claim that expired after
``lease_seconds``: its sender died; a timeout, a network error or a Twilio 5xx)
stays ``sending``, and before any new attempt the sender lists Twilio's
messages to that number from the hotline's number and takes as this one a
message with the same body, created since ``claimed_at`` and not already an
other row's; only when there is none is the message sent again. What remains:
a text with the same body to the same number sent by other means (not through
this outbox) since the claim would be taken for this one, and this one not
sent; and the lease must outlast a sender's Twilio call (``hotline.jobs.outbox``
keeps it above twice the Twilio timeout).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from hotline import audit
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.privacy import mask_phone, normalize_phone
from hotline.tickets.service import add_event
from models.contact import Contact
from models.interaction import Interaction
from models.outbox import OutboundMessage
from models.ticket import OPEN_STATUSES, Ticket
from models.user import HOTLINE_ROLES, User

log = logging.getLogger(__name__)

NO_CREDENTIALS = "not sent: no credentials"
OPTED_OUT = "not sent: the recipient opted out of text messages"
#: What admins read for the reasons this module records itself (Twilio's own errors are shown as Twilio gave them).
ERROR_LABELS = {
    NO_CREDENTIALS: _l("Not sent: no Twilio credentials are set"),
    OPTED_OUT: _l("Not sent: the recipient opted out of text messages"),
}
#: Twilio's delivery statuses, as admins read them.
DELIVERY_LABELS = {
    "accepted": _l("accepted by Twilio"),
    "queued": _l("queued at Twilio"),
    "sending": _l("sending"),
    "sent": _l("sent to the carrier"),
    "delivered": _l("delivered"),
    "undelivered": _l("not delivered"),
    "failed": _l("delivery failed"),
}
#: Twilio's limit for one message body (it splits it into segments).
MAX_BODY = 1600
#: Longest wait between two attempts, whatever the backoff says.
MAX_BACKOFF_SECONDS = 3600
#: Order of Twilio's delivery statuses: a late callback never moves a message backwards.
DELIVERY_RANK = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4}
DELIVERY_FAILED = ("undelivered", "failed")


def is_opted_out(phone: str) -> bool:
    """The person at ``phone`` texted STOP/退订 and has not opted back in."""
    return bool(db.session.scalar(select(Contact.sms_opt_out).where(Contact.phone == phone)))


def enqueue_sms(
    *, to: str, body: str, now: datetime, ticket: Ticket | None = None, actor: User | None = None
) -> OutboundMessage:
    """Queue one SMS to ``to`` with the outbound Interaction that stands for it; nothing is sent here.

    ``to`` is normalised to E.164; a number that is not one, or that opted
    out, is recorded as ``not_sent`` with the reason, never queued.
    """
    e164 = normalize_phone(to)
    reason = None
    if e164 is None:
        reason = "not sent: not a valid phone number"
    elif is_opted_out(e164):
        reason = OPTED_OUT
    interaction = Interaction(
        channel="sms",
        direction="outbound",
        to_number=(e164 or to or "")[:64],
        contact_id=db.session.scalar(select(Contact.id).where(Contact.phone == e164)) if e164 else None,
        ticket_id=ticket.id if ticket else None,
        status="queued" if reason is None else "not_sent",
        started_at=now,
        body=body,
        handled_by_id=actor.id if actor else None,
    )
    db.session.add(interaction)
    db.session.flush()
    message = OutboundMessage(
        to_number=(e164 or to or "")[:32],
        body=body,
        ticket_id=ticket.id if ticket else None,
        interaction_id=interaction.id,
        created_by_id=actor.id if actor else None,
        status="queued" if reason is None else "not_sent",
        attempts=0,
        next_attempt_at=now if reason is None else None,
        last_error=reason,
        created_at=now,
    )
    db.session.add(message)
    if reason is not None:
        log.warning("SMS to %s %s", mask_phone(to), reason)
    return message


def text_caller(ticket: Ticket, *, actor: User, now: datetime, text: str) -> OutboundMessage:
    """An operator answers the caller by SMS from the ticket; the caller's replies land on the same ticket.

    Refused, with nothing written, when the caller opted out (STOP/退订), has
    no valid mobile number, or the ticket is closed or merged.
    """
    if actor.role not in HOTLINE_ROLES:
        raise NotAllowed(_l("Only hotline operators and managers can do this."))
    if ticket.status not in OPEN_STATUSES:
        raise DomainError(_l("Only an open ticket can be answered by text message."))
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Write the message first."))
    if len(text) > MAX_BODY:
        raise DomainError(_l("The text is too long (at most %(n)s characters).", n=MAX_BODY))
    contact = ticket.contact
    if contact is None or not contact.phone:
        raise DomainError(_l("This caller has no valid phone number to text."))
    if contact.sms_opt_out:
        raise DomainError(
            _l("This caller has opted out of text messages (STOP/退订): nothing was sent. Call them instead.")
        )
    message = enqueue_sms(to=contact.phone, body=text, now=now, ticket=ticket, actor=actor)
    ticket.updated_at = now
    add_event(ticket, actor, "sms_out", now, text=text)
    return message


# --- sending -------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one pass of the sender did, by outcome (message ids)."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    not_sent: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.retrying)} to retry, "
            f"{len(self.failed)} failed, {len(self.not_sent)} not sent"
        )


class Claim(NamedTuple):
    """A message taken by this sender; ``uncertain_since``: an earlier attempt may have reached Twilio since then."""

    id: int
    uncertain_since: datetime | None


def _claim(now: datetime, *, limit: int, lease_seconds: int) -> list[Claim]:
    """Take up to ``limit`` due messages for this sender until ``now + lease_seconds``, committed."""
    due = or_(
        and_(OutboundMessage.status == "queued", OutboundMessage.next_attempt_at <= now),
        and_(OutboundMessage.status == "sending", OutboundMessage.next_attempt_at <= now),
    )
    stmt = (
        select(OutboundMessage.id, OutboundMessage.status, OutboundMessage.attempts, OutboundMessage.claimed_at)
        .where(due)
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    claimed = []
    for message_id, status, attempts, claimed_at in db.session.execute(stmt).all():
        uncertain = status == "sending"
        # A series of attempts that may have reached Twilio keeps the instant its first claim began.
        since = (claimed_at or now) if uncertain else now
        result = db.session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == message_id,
                OutboundMessage.status == status,
                OutboundMessage.attempts == attempts,
            )
            .values(
                status="sending",
                attempts=attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_seconds),
                claimed_at=since,
            )
        )
        if result.rowcount == 1:
            claimed.append(Claim(message_id, since if uncertain else None))
    db.session.commit()
    return claimed


def _finish(message: OutboundMessage, status: str, *, now: datetime, error: str | None = None) -> None:
    message.status = status
    message.last_error = error
    message.next_attempt_at = None
    message.claimed_at = None
    if message.interaction is not None:
        message.interaction.status = status
    if status in ("failed", "not_sent") and message.ticket_id is not None:
        ticket = db.session.get(Ticket, message.ticket_id)
        add_event(ticket, None, "sms_failed", now, reason=error, message=message.id)


def _retry_or_give_up(
    message: OutboundMessage, error: str, *, now: datetime, max_attempts: int, retry_seconds: int, uncertain: bool
) -> bool:
    """Queue the next attempt with exponential backoff; False when the attempts are used up.

    ``uncertain``: Twilio may have taken the message (a timeout, a network
    error, a 5xx): it stays ``sending``, so that the next attempt asks Twilio
    first. Otherwise (Twilio answered that it did not) it is ``queued`` again.
    """
    if message.attempts >= max_attempts:
        _finish(message, "failed", now=now, error=f"gave up after {message.attempts} attempts: {error}"[:500])
        return False
    delay = min(retry_seconds * 2 ** (message.attempts - 1), MAX_BACKOFF_SECONDS)
    message.status = "sending" if uncertain else "queued"
    if not uncertain:
        message.claimed_at = None
    message.last_error = error[:500]
    message.next_attempt_at = now + timedelta(seconds=delay)
    return True


#: Twilio's clock and ours may differ this much when a message found at Twilio is matched to its claim.
CLOCK_SKEW = timedelta(seconds=60)
#: At most this many of Twilio's messages to one number (from the hotline's), newest first, are looked through.
LOOKBACK = 10_000


class CannotTell(Exception):
    """Twilio's list of messages to the number is too long since the claim to look through."""


def _taken_already(message: OutboundMessage, client: Client, from_number: str, since: datetime):
    """Twilio's record of this message if an earlier attempt got it there, else None (errors propagate).

    A message to the same number from the hotline's number, with the same
    body, created at Twilio since ``since`` (less ``CLOCK_SKEW``), whose SID no
    row of the outbox holds yet. Twilio lists the newest first: the pages are
    read until a message older than that (a duty phone gets many); past
    ``LOOKBACK`` messages it cannot tell (``CannotTell``).
    """
    oldest = since - CLOCK_SKEW
    found = []
    for seen, sent in enumerate(client.messages.stream(to=message.to_number, from_=from_number, page_size=1000)):
        if sent.date_created is not None and sent.date_created < oldest:
            break
        if seen >= LOOKBACK:
            raise CannotTell(f"more than {LOOKBACK} messages to this number since the claim")
        if sent.body == message.body:
            found.append(sent)
    if not found:
        return None
    known = set(
        db.session.scalars(
            select(OutboundMessage.provider_sid).where(OutboundMessage.provider_sid.in_([sent.sid for sent in found]))
        )
    )
    return next((sent for sent in sorted(found, key=lambda s: s.sid) if sent.sid not in known), None)


def send_due(
    *,
    now: datetime,
    client: Client | None,
    from_number: str | None,
    status_callback: str | None,
    max_attempts: int,
    retry_seconds: int,
    limit: int = 100,
    lease_seconds: int = 300,
    batch: int = 10,
) -> SendReport:
    """Send up to ``limit`` messages that are due, one transaction each; ``client`` None means no credentials.

    Messages are claimed ``batch`` at a time, each claim for ``lease_seconds``
    from ``now``: the caller sizes the batch so that its messages are all tried
    within the lease, and calls this again with the clock read anew for each
    batch (``hotline.jobs.outbox``); a sender that dies holds one batch at most.
    Without credentials (or without the hotline's own number) nothing is sent
    and each message says ``not sent: no credentials``. Opted-out
    recipients are checked again at send time and never sent to.
    """
    report = SendReport()
    retry = {"now": now, "max_attempts": max_attempts, "retry_seconds": retry_seconds}
    done = 0
    while done < limit:
        claims = _claim(now, limit=min(batch, limit - done), lease_seconds=lease_seconds)
        if not claims:
            break
        done += len(claims)
        for message_id, uncertain_since in claims:
            message = db.session.get(OutboundMessage, message_id)
            if is_opted_out(message.to_number) and uncertain_since is None:
                _finish(message, "not_sent", now=now, error=OPTED_OUT)
                report.not_sent.append(message.id)
            elif client is None or not from_number:
                log.warning("SMS %s to %s %s", message.id, mask_phone(message.to_number), NO_CREDENTIALS)
                _finish(message, "not_sent", now=now, error=NO_CREDENTIALS)
                report.not_sent.append(message.id)
            else:
                _send_one(message, client, from_number, status_callback, report, uncertain_since, retry)
            db.session.commit()
    return report


def _sent(message: OutboundMessage, sent, from_number: str, now: datetime, report: SendReport) -> None:
    message.provider_sid = sent.sid
    message.delivery_status = sent.status
    message.sent_at = now
    _finish(message, "sent", now=now)
    if message.interaction is not None:
        message.interaction.provider_sid = sent.sid
        message.interaction.from_number = from_number
    report.sent.append(message.id)


def _send_one(message, client, from_number, status_callback, report, uncertain_since, retry: dict) -> None:
    """One attempt; when an earlier one may have reached Twilio, ask Twilio first and never send blindly."""
    now = retry["now"]
    if uncertain_since is not None:
        try:
            taken = _taken_already(message, client, from_number, uncertain_since)
        except Exception as exc:  # Twilio cannot tell now: not sent again until it can
            error = f"cannot tell whether Twilio took it: {type(exc).__name__}: {exc}"
            again = _retry_or_give_up(message, error, uncertain=True, **retry)
            (report.retrying if again else report.failed).append(message.id)
            log.warning("SMS %s: %s", message.id, error)
            return
        if taken is not None:
            log.warning("SMS %s: Twilio took it already as %s; not sent again", message.id, taken.sid)
            _sent(message, taken, from_number, now, report)
            return
        if is_opted_out(message.to_number):
            _finish(message, "not_sent", now=now, error=OPTED_OUT)
            report.not_sent.append(message.id)
            return
    try:
        sent = client.messages.create(
            to=message.to_number, from_=from_number, body=message.body, status_callback=status_callback
        )
    except TwilioRestException as exc:
        error = f"Twilio {exc.status} error {exc.code}: {exc.msg}"
        if 400 <= exc.status < 500 and exc.status != 429:  # refused for good: bad number, unsubscribed...
            _finish(message, "failed", now=now, error=error[:500])
            report.failed.append(message.id)
            return
        # 429: Twilio took nothing; a 5xx may come after Twilio took it.
        again = _retry_or_give_up(message, error, uncertain=exc.status >= 500, **retry)
        (report.retrying if again else report.failed).append(message.id)
        log.warning("SMS %s: %s", message.id, error)
    except Exception as exc:  # timeouts, network: this message waits (Twilio may have it) and the others go on
        error = f"{type(exc).__name__}: {exc}"
        again = _retry_or_give_up(message, error, uncertain=True, **retry)
        (report.retrying if again else report.failed).append(message.id)
        log.warning("SMS %s: %s", message.id, error)
    else:
        _sent(message, sent, from_number, now, report)


def record_delivery(sid: str, status: str, *, error_code: str | None, now: datetime) -> None:
    """Twilio reports what became of a message we sent (sent, delivered, undelivered, failed).

    Unknown SIDs are ignored. A status never moves a message backwards, so
    callbacks arriving out of order or twice change nothing.
    """
    message = db.session.scalar(select(OutboundMessage).where(OutboundMessage.provider_sid == sid))
    if message is None:
        return
    status = status[:16]
    if DELIVERY_RANK.get(status, 0) <= DELIVERY_RANK.get(message.delivery_status or "", -1):
        return
    message.delivery_status = status
    if message.interaction is not None:
        message.interaction.status = status
    if status in DELIVERY_FAILED and message.ticket_id is not None:
        reason = f"{status} (Twilio error {error_code})" if error_code else status
        add_event(db.session.get(Ticket, message.ticket_id), None, "sms_failed", now, reason=reason, message=message.id)


def requeue(message: OutboundMessage, *, actor: User, now: datetime) -> None:
    """An admin sends a failed or unsent message again, as a fresh series of attempts."""
    if message.status not in ("failed", "not_sent"):
        raise DomainError(_l("Only a failed or unsent message can be sent again."))
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = now
    message.last_error = None
    if message.interaction is not None:
        message.interaction.status = "queued"
    audit.record("sms_requeued", actor_id=actor.id, now=now, target=str(message.id))
