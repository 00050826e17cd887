"""Advance relief (先行救助): help first, paperwork later; one approval, staged payments."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime
from models.user import User

#: 临时救助, 医疗救助, 疾病应急救助, 救急难基金, 慈善.
KINDS = ("temporary_assistance", "medical_assistance", "disease_emergency", "emergency_fund", "charity")
#: pending_approval: above the township limit, waiting for a manager (一事一议);
#: approved: granted (the advance-relief clock stops, paperwork starts); rejected.
STATUSES = ("pending_approval", "approved", "rejected")


class AdvanceRelief(db.Model):
    __tablename__ = "advance_relief"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    #: The approved amount in fen (1/100 yuan), so sums are exact on every database.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    #: The unit that grants and pays (a township, 民政局, the charity fund).
    granting_unit_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    status: Mapped[str] = mapped_column(String(20))
    #: Why this relief, in the words of whoever asked for it (required: audits look for 人情保).
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The manager's reasoning for an amount above the limit (一事一议), or for a rejection.
    decision_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: What the integrity checks found when it was asked for (hotline.relief.integrity): earlier grants to the
    #: same ID number, a declared relative of the requester, whether the ID number could be checked at all.
    integrity: Mapped[dict | None] = mapped_column(JSON)
    #: 一事一议: the case conference's decision for a case above the cap: its reference and gist, and/or
    #: the uploaded minutes (a document of kind ``case_conference``).
    case_conference_ref: Mapped[str | None] = mapped_column(Text)
    case_conference_document_id: Mapped[int | None] = mapped_column(ForeignKey("relief_document.id"))

    granting_unit: Mapped[Department] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    payments: Mapped[list["AdvanceReliefPayment"]] = relationship(
        back_populates="relief", order_by="AdvanceReliefPayment.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def paid_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)

    @property
    def unpaid_fen(self) -> int:
        """What an approved relief still owes the person (0 for one pending or rejected)."""
        return max(self.amount_fen - self.paid_fen, 0) if self.status == "approved" else 0


class AdvanceReliefPayment(db.Model):
    """One staged payment (分阶段救助) under an approved advance relief."""

    __tablename__ = "advance_relief_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    relief_id: Mapped[int] = mapped_column(ForeignKey("advance_relief.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)

    relief: Mapped[AdvanceRelief] = relationship(back_populates="payments")
