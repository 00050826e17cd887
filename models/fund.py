"""Relief funds (救急难基金, 慈善资金) as ledgers: money in (allocations, donations), payouts of cases out.

A fund's balance is the sum of its entries. ``Fund.balance_fen`` keeps that sum
at hand for lists and checks; it is changed only by
:func:`hotline.funds.service.post_entry`, in the same transaction as the entry and
under the fund's row lock, and a test checks it equals the sum on both databases.
Entries are never changed or removed (a mistaken one is undone by a reversal).
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime
from models.user import User

#: town: a township's 救急难基金; county: the county's; charity: a charity fund (慈善会).
KINDS = ("town", "county", "charity")
#: allocation (拨入) and donation (捐赠) add; payout (支出, a relief payment of a case) takes away;
#: reversal (冲正) undoes an allocation or donation entered by mistake.
ENTRY_KINDS = ("allocation", "donation", "payout", "reversal")
#: A payout above the balance held for the fund's manager (policy ``needs_approval``): pending, then
#: released (paid from the fund) or refused.
REQUEST_STATUSES = ("pending", "released", "refused")


class Fund(db.Model):
    __tablename__ = "fund"
    __table_args__ = (UniqueConstraint("owner_unit_id", "kind", name="uq_fund_owner_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable short code (``town_chengguan``), used in exports and by the CLI.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: The name people use (城关镇救急难基金).
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    #: The unit that holds the fund and pays from it: a relief granted by this unit, of a source that
    #: draws on this kind of fund (``funds.toml``), is paid from it. One fund of each kind per unit.
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    #: The sum of the fund's entries in fen, kept by the function that writes them (never below zero).
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    owner_unit: Mapped[Department] = relationship()


class FundEntry(db.Model):
    """One line of a fund's ledger; ``amount_fen`` is signed: money in is positive, money out negative."""

    __tablename__ = "fund_entry"
    __table_args__ = (Index("ix_fund_entry_fund_at", "fund_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    #: The fund's balance right after this entry: the statement's running balance.
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    #: A payout's case, relief and payment (分阶段救助 payment); empty for money in.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    relief_id: Mapped[int | None] = mapped_column(ForeignKey("advance_relief.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("advance_relief_payment.id"), unique=True)
    #: The allocation or donation a reversal undoes (once).
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("fund_entry.id"), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Who gave or allocated the money and on what document; what a payout was for.
    note: Mapped[str] = mapped_column(Text)

    fund: Mapped[Fund] = relationship()
    actor: Mapped[User] = relationship()


@event.listens_for(FundEntry, "before_update")
@event.listens_for(FundEntry, "before_delete")
def _entries_are_append_only(mapper, connection, target):
    raise RuntimeError("fund entries are never changed: undo one with a reversal")


class FundPayoutRequest(db.Model):
    """A payment of a relief that the fund could not cover when it was entered, held for the fund's manager.

    Only under the policy ``needs_approval``. Released, it becomes the payment and its payout entry
    (the balance must cover it by then); refused, nothing is paid.
    """

    __tablename__ = "fund_payout_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund.id"), index=True)
    relief_id: Mapped[int] = mapped_column(ForeignKey("advance_relief.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_comment: Mapped[str | None] = mapped_column(Text)
    #: The payment made when it was released.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("advance_relief_payment.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    fund: Mapped[Fund] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
