"""The outbox: text messages waiting to leave, being sent, sent or given up."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.interaction import Interaction
from models.types import UTCDateTime

#: queued: waiting for its next attempt (Twilio has it not); sending: claimed by a sender, or an attempt
#: whose outcome is unknown (Twilio may have taken it: asked before any new attempt); sent: Twilio took it;
#: failed: refused by Twilio or given up after the last attempt; not_sent: never tried
#: (no credentials, the recipient opted out).
STATUSES = ("queued", "sending", "sent", "failed", "not_sent")


class OutboundMessage(db.Model):
    """One SMS to send. Webhooks and views only write rows here; a sender process sends them."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164 number of the recipient.
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: The outbound Interaction that stands for this message on the ticket.
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interaction.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12))
    #: Attempts started so far (a claim counts as an attempt).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: queued: when the next attempt is due; sending: when the claim expires and may be retaken.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: sending: when the first claim of this series of attempts began, that is the earliest instant
    #: Twilio may have taken the message (an expired claim looks for it at Twilio from there).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Why the last attempt failed, or why the message was not sent.
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: Twilio MessageSid once sent; unique so a status callback finds exactly one row.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Delivery status reported by Twilio afterwards: sent, delivered, undelivered, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    interaction: Mapped[Interaction | None] = relationship()

    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)
