"""The duty roster (值班表): who the 24-hour line rings, and in which order."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime
from models.user import User


class DutyLine(db.Model):
    """One phone or Twilio client the hotline rings when a call comes in.

    A line names a phone number (an operator's mobile or desk phone) or a
    Twilio Client identity (a softphone in the browser), never both. Urgent
    calls ring every line on duty at once; other calls ring them in ``position``
    order.
    """

    __tablename__ = "duty_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The operator who answers on this line; the call's handler and first-contact owner.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: What the roster shows (defaults to the operator's name): 夜班座机, 张晓红手机...
    label: Mapped[str] = mapped_column(String(120))
    #: E.164 number to dial; empty when the line is a Twilio Client identity.
    phone: Mapped[str | None] = mapped_column(String(32))
    #: Twilio Client identity to ring; empty when the line is a phone number.
    client_identity: Mapped[str | None] = mapped_column(String(64))
    #: Rung now; switched off at the end of a shift without losing the entry.
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Ring order for calls put through in turn (smaller first).
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship()

    @property
    def target(self) -> str:
        """What the line rings, for the roster page."""
        return self.phone or f"client:{self.client_identity}"
