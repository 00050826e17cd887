"""Outgoing webhooks: partner subscriptions and the deliveries waiting to leave, sent or given up."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime

#: queued: waiting for its next attempt; sending: claimed by a sender; delivered: the partner answered 2xx;
#: failed: refused (4xx) or given up after the last attempt; cancelled: its subscription was deactivated.
DELIVERY_STATUSES = ("queued", "sending", "delivered", "failed", "cancelled")


class WebhookSubscription(db.Model):
    """A partner platform's endpoint, told of the state changes of the cases its source reported."""

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A source code of ``config/policy/sources.toml`` (``12345``): tickets with a report of it are watched.
    source: Mapped[str] = mapped_column(String(16))
    #: Where the POSTs go (http or https).
    url: Mapped[str] = mapped_column(String(500))
    #: The shared secret the body is signed with (HMAC-SHA256). Kept readable: the sender needs it; shown to
    #: admins once, when created or replaced, and masked afterwards.
    secret: Mapped[str] = mapped_column(String(128))
    #: The event kinds sent, a subset of ``[events] kinds`` in ``webhooks.toml``.
    events: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhook_subscription_source_active", "source", "active"),)


class WebhookDelivery(db.Model):
    """One signed POST to a subscription's URL: written with the event that caused it, sent by the scheduler."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The partner's idempotency key (``X-Hotline-Delivery``, and ``delivery`` in the body): the same on retries.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: The ticket event kind that caused it.
    event: Mapped[str] = mapped_column(String(40))
    #: The JSON body exactly as sent and signed, fixed when queued: every retry sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    #: Attempts started so far (a claim counts as an attempt).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: queued: when the next attempt is due; sending: when the claim expires and may be retaken.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The partner's last HTTP status, if it answered.
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    #: Why the last attempt failed (network error, the status and the start of the answer).
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    subscription: Mapped[WebhookSubscription] = relationship()

    __table_args__ = (
        Index("ix_webhook_delivery_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_status_created", "status", "created_at"),
    )
