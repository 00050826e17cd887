"""Referrals (转介): a ticket passed to a unit that can act, each with its own life and clocks."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime
from models.user import User

ROLES = ("lead", "assist")
#: dispatched -> acknowledged (签收) -> in_progress -> resolved (办结); return_requested (退单)
#: goes to returned (accepted) or back where it was (rejected); cancelled by the owner.
STATUSES = ("dispatched", "acknowledged", "in_progress", "return_requested", "resolved", "returned", "cancelled")
ACTIVE_STATUSES = ("dispatched", "acknowledged", "in_progress", "return_requested")
TERMINAL_STATUSES = ("resolved", "returned", "cancelled")
RETURN_REASONS = ("not_our_remit", "wrong_township", "duplicate", "cannot_contact", "insufficient_information", "other")
OUTCOMES = ("relief_granted", "referred_on", "not_eligible", "unreachable", "other")
#: none, requested, approved, denied: an extension (延期) may be asked once.
EXTENSION_STATES = ("none", "requested", "approved", "denied")


class Referral(db.Model):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    #: lead (主办) or assist (协办).
    role: Mapped[str] = mapped_column(String(8))
    #: Set when a township passed its referral on to one of its villages or grid units.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    #: Where a return request came from, so a rejected return goes back there.
    status_before_return: Mapped[str | None] = mapped_column(String(20))
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: What the unit did (办结 result text) and the outcome code.
    result: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(24))
    return_reason: Mapped[str | None] = mapped_column(String(32))
    return_comment: Mapped[str | None] = mapped_column(Text)
    return_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_state: Mapped[str] = mapped_column(String(12), default="none")
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: 签收 deadline; cleared when acknowledged.
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: 办结 deadline; moved by an approved extension.
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Deadline for the owner's decision on a return request.
    return_review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Earliest open deadline of this referral: inbox order and "time left".
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: Next instant a ladder step of this referral's clocks falls due: the sweep's index.
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    escalation_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Highest ladder level reached (warn, urge, supervise, case_conference).
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    ticket = relationship("Ticket", back_populates="referrals")
    department: Mapped[Department] = relationship()
    parent: Mapped["Referral | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Referral"]] = relationship(back_populates="parent")
    dispatched_by: Mapped[User | None] = relationship(foreign_keys=[dispatched_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_referral_department_status", "department_id", "status"),
        # Reports count referrals by when they were dispatched, for every unit or for one.
        Index("ix_referral_dispatched_at", "dispatched_at"),
        Index("ix_referral_department_dispatched", "department_id", "dispatched_at"),
        # Reports: active referrals past a deadline, return and extension requests waiting.
        Index("ix_referral_status_deadline", "status", "next_deadline_at"),
        # Reports by unit: the units each of a period's tickets was referred to, from the index alone.
        Index("ix_referral_ticket_department", "ticket_id", "department_id"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
