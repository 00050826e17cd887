"""Outgoing webhooks (状态推送): partner platforms hear when the cases they transferred change state.

An admin subscribes a source of ``sources.toml`` (``12345``) to a URL with a shared secret and a choice of
the event kinds ``webhooks.toml`` lists. When an event of such a kind is appended to a ticket that a report
of that source points to (the ticket it opened, an open ticket it was added to, or a duplicate of it merged
in), ``queue_for_event`` writes one delivery per subscription in the same transaction as the event (the
outbox pattern): the change and the message to the partner commit together or not at all. The body is
fixed then, so every retry sends the same bytes.

``send_due``, run by the scheduler process and by ``flask hotline send-webhooks``, claims each due
delivery the way the SMS outbox does (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, then a compare-and-set
update, with a lease a dead sender's claim expires after), POSTs it outside any transaction, and records
what the partner answered: 2xx delivered; a network error, a timeout, 5xx or 429 retried with exponential
backoff until ``max_attempts``; any other answer (4xx, a redirect) failed at once. Admins see and retry them.
"""

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from hotline import audit
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.policy import sources
from hotline.privacy import mask_id_number, mask_phone
from hotline.webhooks.policy import WebhookPolicy, webhook_policy
from models.external_report import ExternalReport
from models.ticket import Ticket
from models.user import User
from models.webhook import WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hotline-Signature"
DELIVERY_HEADER = "X-Hotline-Delivery"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
EVENT_HEADER = "X-Hotline-Event"
#: Ticket states in which the ticket carries its resolution (what was done), sent to the partner.
RESOLVED_STATUSES = ("pending_callback", "closed")
#: What a sender adds to the request timeout before its claim may be taken by another sender.
LEASE_MARGIN_SECONDS = 60
#: Characters of a partner's error answer kept for admins.
ANSWER_CHARS = 200
#: Marks a webhook secret where it is pasted (logs, a partner's configuration), never a secret itself.
SECRET_PREFIX = "whsec_"  # noqa: S105

#: Mobile numbers and ID numbers written in free text (a resolution, a unit's result): masked before they leave.
_MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
#: The operating system's reason inside a requests error ("[Errno 111] Connection refused").
_ERRNO_RE = re.compile(r"\[Errno -?\d+\][^'\")]*")


def mask_in_text(text: str | None) -> str | None:
    """``text`` with every mobile and ID number in it masked (``138****1234``), for a body that leaves the county."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE_RE.sub(lambda m: mask_phone(m.group()), text)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hotline-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def mask_secret(secret: str) -> str:
    """The secret as admins see it after it was shown once: its last four characters."""
    return SECRET_PREFIX + "…" + secret[-4:]


# --- subscriptions -------------------------------------------------------------------------


def checked_url(url: str | None) -> str:
    """An http(s) URL with a host, no credentials and no spaces; refused with the rule otherwise."""
    url = (url or "").strip()
    if not url:
        raise DomainError(_l("Give the partner's URL."))
    if len(url) > 500 or any(ch.isspace() for ch in url):
        raise DomainError(_l("The URL is too long or contains spaces."))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise DomainError(_l("This is not a valid URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(_l("The URL must start with http:// or https:// and name a host."))
    if parts.username or parts.password:
        raise DomainError(_l("Put no user name or password in the URL: the signature proves the sender."))
    return url


def checked_events(events) -> list[str]:
    """The chosen event kinds in the policy's order; refused when empty or when one is not in the policy."""
    allowed = webhook_policy().kinds
    chosen = set(events or ())
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise DomainError(_l("Unknown changes: %(kinds)s.", kinds=", ".join(unknown)))
    if not chosen:
        raise DomainError(_l("Choose at least one change to send."))
    return [kind for kind in allowed if kind in chosen]


def _check_not_twice(source: str, url: str, *, apart_from: int | None = None) -> None:
    stmt = select(WebhookSubscription.id).where(
        WebhookSubscription.source == source, WebhookSubscription.url == url, WebhookSubscription.active.is_(True)
    )
    if apart_from is not None:
        stmt = stmt.where(WebhookSubscription.id != apart_from)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise DomainError(_l("This source already sends to this URL."))


def create_subscription(
    *, source: str, url: str, actor: User | None, now: datetime, events=None
) -> WebhookSubscription:
    """Subscribe ``source`` (a code of ``sources.toml``) to ``url`` with a new secret; all policy kinds by default.

    The caller shows the secret (``subscription.secret``) once; it is masked everywhere afterwards.
    """
    if sources().get(source or "") is None:
        raise DomainError(_l("Unknown source %(source)s: use a code of sources.toml.", source=source))
    url = checked_url(url)
    events = checked_events(webhook_policy().kinds if events is None else events)
    _check_not_twice(source, url)
    subscription = WebhookSubscription(
        source=source,
        url=url,
        secret=new_secret(),
        events=events,
        active=True,
        created_by_id=actor.id if actor else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(subscription)
    db.session.flush()
    audit.record(
        "webhook_created",
        actor_id=actor.id if actor else None,
        now=now,
        target=str(subscription.id),
        source=source,
        url=url,
        events=events,
    )
    return subscription


def update_subscription(subscription: WebhookSubscription, *, url: str, events, actor: User, now: datetime) -> dict:
    """Change the URL or the events sent; deliveries still waiting go to the new URL. Returns the changes."""
    url = checked_url(url)
    events = checked_events(events)
    if subscription.active:
        _check_not_twice(subscription.source, url, apart_from=subscription.id)
    changes = {}
    if url != subscription.url:
        changes["url"] = [subscription.url, url]
    if events != list(subscription.events):
        changes["events"] = [list(subscription.events), events]
    if not changes:
        raise DomainError(_l("Nothing was changed."))
    subscription.url, subscription.events, subscription.updated_at = url, events, now
    audit.record("webhook_updated", actor_id=actor.id, now=now, target=str(subscription.id), changes=changes)
    return changes


def deactivate_subscription(subscription: WebhookSubscription, *, actor: User, now: datetime) -> int:
    """Stop sending: nothing more is queued, and deliveries still waiting are cancelled. Returns how many.

    One being posted at this moment is cancelled too (its sender then finds its claim gone and records
    nothing): whether it arrived or not, a retry later sends it again under the same delivery id.
    """
    if not subscription.active:
        raise DomainError(_l("This webhook is already deactivated."))
    subscription.active, subscription.updated_at = False, now
    cancelled = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status.in_(("queued", "sending")),
        )
        .values(status="cancelled", next_attempt_at=None)
    ).rowcount
    audit.record("webhook_deactivated", actor_id=actor.id, now=now, target=str(subscription.id), cancelled=cancelled)
    return cancelled


def activate_subscription(subscription: WebhookSubscription, *, actor: User, now: datetime) -> None:
    """Send again from now on (cancelled deliveries stay cancelled; an admin may retry each)."""
    if subscription.active:
        raise DomainError(_l("This webhook is already active."))
    _check_not_twice(subscription.source, subscription.url, apart_from=subscription.id)
    subscription.active, subscription.updated_at = True, now
    audit.record("webhook_activated", actor_id=actor.id, now=now, target=str(subscription.id))


def replace_secret(subscription: WebhookSubscription, *, actor: User, now: datetime) -> str:
    """A new secret (the old one stops working at once: deliveries still waiting are signed with the new one)."""
    subscription.secret, subscription.updated_at = new_secret(), now
    audit.record("webhook_secret_replaced", actor_id=actor.id, now=now, target=str(subscription.id))
    return subscription.secret


# --- queueing ------------------------------------------------------------------------------


def watched_kinds() -> frozenset[str]:
    """The event kinds that may cause a delivery: the one check every appended event goes through first."""
    return webhook_policy().watched


def queue_for_event(ticket: Ticket, kind: str, now: datetime, payload: dict) -> list[WebhookDelivery]:
    """Queue a delivery to each active subscription watching ``kind`` whose source reported ``ticket``.

    Called by ``add_event``/``insert_events`` for watched kinds only, in the event's transaction. Reads
    without flushing the session (the caller's ticket is mid-change; a flush would write it twice).
    """
    with db.session.no_autoflush:
        merged_here = select(Ticket.id).where(Ticket.merged_into_id == ticket.id)
        rows = db.session.execute(
            select(WebhookSubscription, ExternalReport.external_id)
            .join(ExternalReport, ExternalReport.source == WebhookSubscription.source)
            .where(
                WebhookSubscription.active.is_(True),
                or_(ExternalReport.ticket_id == ticket.id, ExternalReport.ticket_id.in_(merged_here)),
            )
            .order_by(WebhookSubscription.id, ExternalReport.id)
        ).all()
        watching: dict[int, tuple[WebhookSubscription, list[str]]] = {}
        for subscription, external_id in rows:
            if kind not in subscription.events:
                continue
            _, ids = watching.setdefault(subscription.id, (subscription, []))
            if external_id is not None and external_id not in ids:
                ids.append(external_id)
        deliveries = []
        for subscription, external_ids in watching.values():
            uid = str(uuid.uuid4())
            body = _body(uid, subscription.source, external_ids, ticket, kind, now, payload)
            delivery = WebhookDelivery(
                uid=uid,
                subscription_id=subscription.id,
                ticket_id=ticket.id,
                event=kind,
                body=body,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            db.session.add(delivery)
            deliveries.append(delivery)
    return deliveries


def iso_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(uid: str, source: str, external_ids: list[str], ticket: Ticket, kind: str, now: datetime, payload) -> str:
    """The JSON a partner receives: the case's state, never the person's data (free text is masked)."""
    body = {
        "delivery": uid,
        "source": source,
        "external_ids": external_ids,
        "ticket": ticket.number,
        "event": kind,
        "status": ticket.status,
        "priority": ticket.priority,
        "at": iso_utc(now),
        "referrals": [
            {
                "unit": referral.department.code,
                "unit_name": referral.department.name,
                "role": referral.role,
                "status": referral.status,
                **(
                    {"result": mask_in_text(referral.result), "outcome": referral.outcome}
                    if referral.status == "resolved"
                    else {}
                ),
            }
            for referral in ticket.referrals
        ],
    }
    if payload.get("department"):  # a referral's event: the unit it is about
        body["unit_name"] = payload["department"]
    if ticket.status in RESOLVED_STATUSES:
        body["resolution"] = mask_in_text(ticket.resolution)
    if ticket.merged_into_id is not None:
        body["merged_into"] = db.session.get(Ticket, ticket.merged_into_id).number
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- sending -------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one pass of the sender did, by outcome (delivery ids)."""

    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.delivered)} delivered, {len(self.retrying)} to retry, {len(self.failed)} failed"


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    uid: str
    event: str
    body: str
    url: str
    secret: str


def _claim_one(now: datetime, *, lease_seconds: float) -> _Claimed | None:
    """Claim the most overdue delivery of an active subscription, committed; None when nothing is due.

    A few candidates are read (locked and skipped by other senders on PostgreSQL); the first one whose
    compare-and-set update still finds it as read is this sender's.
    """
    d, s = WebhookDelivery, WebhookSubscription
    stmt = (
        select(d.id, d.status, d.attempts, d.uid, d.event, d.body, s.url, s.secret)
        .join(s, s.id == d.subscription_id)
        .where(d.status.in_(("queued", "sending")), d.next_attempt_at <= now, s.active.is_(True))
        .order_by(d.next_attempt_at, d.id)
        .limit(5)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=d)
    claimed = None
    for row in db.session.execute(stmt).all():
        result = db.session.execute(
            update(d)
            .where(d.id == row.id, d.status == row.status, d.attempts == row.attempts)
            .values(status="sending", attempts=row.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_seconds))
        )
        if result.rowcount == 1:
            claimed = _Claimed(row.id, row.attempts + 1, row.uid, row.event, row.body, row.url, row.secret)
            break
    db.session.commit()
    return claimed


@dataclass(frozen=True)
class _Answer:
    status_code: int | None = None
    error: str | None = None
    retry_after: int | None = None


def post(claimed: _Claimed, *, now: datetime, timeout: float, http: requests.Session) -> _Answer:
    """POST one delivery, signed; never raises: a network failure is an answer without a status."""
    data = claimed.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "hotline-webhooks/1",
        SIGNATURE_HEADER: sign(claimed.secret, data),
        DELIVERY_HEADER: claimed.uid,
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        EVENT_HEADER: claimed.event,
    }
    try:
        with http.post(
            claimed.url, data=data, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            code = response.status_code
            if 200 <= code < 300:
                return _Answer(code)
            text = response.raw.read(ANSWER_CHARS * 4, decode_content=True).decode("utf-8", "replace")
            retry_after = response.headers.get("Retry-After", "")
    except requests.Timeout as exc:
        return _Answer(None, f"{type(exc).__name__}: no answer within {timeout:g} s")
    except requests.RequestException as exc:
        # requests wraps the cause in pool and URL details; admins need the cause ("Connection refused").
        cause = _ERRNO_RE.search(str(exc))
        return _Answer(None, f"{type(exc).__name__}: {cause.group() if cause else exc}"[:500])
    error = f"HTTP {code}: {' '.join(text.split())[:ANSWER_CHARS]}".strip()
    return _Answer(code, error[:500], int(retry_after) if retry_after.isdigit() else None)


def _record(claimed: _Claimed, answer: _Answer, *, now: datetime, policy: WebhookPolicy, report: SendReport):
    d = WebhookDelivery
    values = {"last_attempt_at": now, "last_status_code": answer.status_code}
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        values |= {"status": "delivered", "delivered_at": now, "next_attempt_at": None, "last_error": None}
        outcome = report.delivered
    elif code is not None and code != 429 and code < 500:  # refused (4xx) or sent elsewhere (3xx): no retry helps
        values |= {"status": "failed", "next_attempt_at": None, "last_error": answer.error}
        outcome = report.failed
    elif claimed.attempts >= policy.max_attempts:
        error = f"gave up after {claimed.attempts} attempts: {answer.error}"[:500]
        values |= {"status": "failed", "next_attempt_at": None, "last_error": error}
        outcome = report.failed
    else:
        delay = policy.retry_delay(claimed.attempts)
        if answer.retry_after:  # a partner that asks for more time (429) gets it, within the longest backoff
            delay = max(delay, min(answer.retry_after, policy.max_backoff_seconds))
        values |= {"status": "queued", "next_attempt_at": now + timedelta(seconds=delay), "last_error": answer.error}
        outcome = report.retrying
    result = db.session.execute(
        update(d).where(d.id == claimed.id, d.status == "sending", d.attempts == claimed.attempts).values(values)
    )
    db.session.commit()
    if result.rowcount == 1:
        outcome.append(claimed.id)
    else:  # the claim expired and another sender took the delivery: its outcome is that sender's to record
        log.warning("webhook delivery %s: claim lost before its answer was recorded", claimed.id)
    if values["status"] != "delivered":
        log.warning("webhook delivery %s to %s: %s", claimed.id, claimed.url, answer.error)


def send_due(
    *, now: datetime, policy: WebhookPolicy, limit: int = 50, http: requests.Session | None = None
) -> SendReport:
    """Send up to ``limit`` due deliveries, each claimed, posted outside any transaction, then recorded.

    ``now`` is when the pass starts; each delivery's times move on with the time the pass has taken, so a
    pass slowed by partners that time out never claims with a lease already expired.
    """
    report = SendReport()
    started = time.monotonic()
    lease = policy.timeout_seconds * 2 + LEASE_MARGIN_SECONDS
    own = http is None
    http = http or requests.Session()
    try:
        for _ in range(limit):
            current = now + timedelta(seconds=time.monotonic() - started)
            claimed = _claim_one(current, lease_seconds=lease)
            if claimed is None:
                break
            answer = post(claimed, now=current, timeout=policy.timeout_seconds, http=http)
            current = now + timedelta(seconds=time.monotonic() - started)
            _record(claimed, answer, now=current, policy=policy, report=report)
    finally:
        if own:
            http.close()
    return report


def retry_delivery(delivery: WebhookDelivery, *, actor: User, now: datetime) -> None:
    """An admin sends a failed or cancelled delivery again, as a fresh series of attempts (same id and body)."""
    if delivery.status not in ("failed", "cancelled"):
        raise DomainError(_l("Only a failed or cancelled delivery can be sent again."))
    if not delivery.subscription.active:
        raise DomainError(_l("Its webhook is deactivated: activate it first."))
    delivery.status, delivery.attempts, delivery.next_attempt_at = "queued", 0, now
    delivery.last_error = None
    audit.record("webhook_retried", actor_id=actor.id, now=now, target=str(delivery.id), event=delivery.event)
