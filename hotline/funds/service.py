"""Relief funds as ledgers (救急难基金, 慈善资金): one function per action, each with an explicit ``now``.

A fund's money comes in by allocations (拨入: from the township's or the
county's budget) and donations (捐赠), and goes out by the payments of relief
granted on cases (:func:`hotline.relief.service.record_payment`), each of which
writes its payout entry in the same transaction. An allocation or donation
entered by mistake is undone by a reversal, never edited.

**The balance never goes below zero.** Every entry goes through
:func:`post_entry`, which holds the fund's row lock (:func:`lock_fund`) while it
reads the balance, checks it, and writes the entry and the new balance: on
PostgreSQL ``SELECT ... FOR UPDATE``, so two payouts at once from the same fund
are checked one after the other; on SQLite, where one connection writes at a
time, a write to the fund's row takes the database's write lock before the
balance is read, so the same holds. ``Fund.balance_fen`` is only ever changed
there, and always equals the sum of the fund's entries (:func:`ledger_balance_fen`).

A payment larger than the balance is refused with the balance in the message,
or, when ``funds.toml`` says ``needs_approval``, held for the fund's manager
(:mod:`hotline.relief.service` does that part). The caller commits.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from hotline import access
from hotline.audit import record
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.formatting import format_yuan
from hotline.funds.policy import funds_policy
from hotline.validation import checked_text
from models.department import Department
from models.fund import KINDS, Fund, FundEntry
from models.relief import AdvanceRelief
from models.user import User

_CODE_RE = re.compile(r"^[a-z0-9_]{2,32}$")
#: Which level of unit holds which kind of fund.
OWNER_LEVELS = {"town": ("township",), "county": ("county",), "charity": ("county", "township")}
#: Entries a person types in on the fund's page (payouts come from cases, reversals from a wrong entry).
INCOME_KINDS = ("allocation", "donation")


# --- the ledger -----------------------------------------------------------------------------


def lock_fund(fund_id: int) -> Fund:
    """The fund, read again under its row lock, held until the transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks but lets one
    connection write at a time: a write to the fund's row (that changes nothing)
    takes that lock first, so the balance read next cannot change before commit.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Fund).where(Fund.id == fund_id).values(balance_fen=Fund.balance_fen))
        stmt = select(Fund).where(Fund.id == fund_id)
    else:
        stmt = select(Fund).where(Fund.id == fund_id).with_for_update()
    return db.session.execute(stmt.execution_options(populate_existing=True)).scalar_one()


def shortfall_message(fund: Fund, fen: int):
    return _l(
        "%(fund)s holds %(balance)s: a payment of %(amount)s would take it below zero. "
        "%(short)s more must be allocated to the fund first.",
        fund=fund.name,
        balance=format_yuan(fund.balance_fen),
        amount=format_yuan(fen),
        short=format_yuan(fen - fund.balance_fen),
    )


def post_entry(
    fund: Fund,
    *,
    kind: str,
    amount_fen: int,
    actor: User,
    now: datetime,
    note: str,
    relief: AdvanceRelief | None = None,
    payment_id: int | None = None,
    reverses: FundEntry | None = None,
) -> FundEntry:
    """Write one entry of ``fund`` (locked with :func:`lock_fund` by the caller) and move its balance.

    ``amount_fen`` is signed. An entry that would take the balance below zero is refused.
    """
    balance = fund.balance_fen + amount_fen
    if balance < 0:
        if kind == "payout":
            raise DomainError(shortfall_message(fund, -amount_fen))
        raise DomainError(
            _l(
                "%(fund)s holds %(balance)s: this entry would take it below zero.",
                fund=fund.name,
                balance=format_yuan(fund.balance_fen),
            )
        )
    fund.balance_fen = balance
    entry = FundEntry(
        fund_id=fund.id,
        kind=kind,
        amount_fen=amount_fen,
        balance_after_fen=balance,
        ticket_id=relief.ticket_id if relief is not None else None,
        relief_id=relief.id if relief is not None else None,
        payment_id=payment_id,
        reverses_id=reverses.id if reverses is not None else None,
        actor_id=actor.id,
        at=now,
        note=note,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def ledger_balance_fen(fund_id: int) -> int:
    """The sum of the fund's entries: what ``Fund.balance_fen`` must always equal."""
    return int(
        db.session.scalar(select(func.coalesce(func.sum(FundEntry.amount_fen), 0)).where(FundEntry.fund_id == fund_id))
    )


# --- which fund pays a relief ---------------------------------------------------------------


def fund_for_relief(relief: AdvanceRelief) -> Fund | None:
    """The active fund a relief's payments are drawn from: one the granting unit holds, of a kind its source
    draws on (``funds.toml`` ``[draws]``, in that order); None when the relief is paid from a budget."""
    kinds = funds_policy().fund_kinds(relief.kind)
    if not kinds:
        return None
    found = {
        f.kind: f
        for f in db.session.scalars(
            select(Fund).where(Fund.owner_unit_id == relief.granting_unit_id, Fund.kind.in_(kinds), Fund.active)
        )
    }
    return next((found[k] for k in kinds if k in found), None)


# --- actions --------------------------------------------------------------------------------


def create_fund(*, actor: User, now: datetime, code: str, name: str, kind: str, owner_unit: Department | None) -> Fund:
    """Set up a fund held by ``owner_unit``, with a balance of zero; money comes in by allocations."""
    if not access.can_create_fund(actor):
        raise NotAllowed(_l("Only a manager or an administrator can set up a fund."))
    code = (code or "").strip().lower()
    if not _CODE_RE.match(code):
        raise DomainError(_l("The code is 2 to 32 lowercase letters, digits or underscores."))
    name = checked_text(name, _l("Give the fund's name."), limit=120)
    if kind not in KINDS:
        raise DomainError(_l("Choose the kind of fund."))
    if owner_unit is None or not owner_unit.active:
        raise DomainError(_l("Choose the unit that holds the fund."))
    if owner_unit.level not in OWNER_LEVELS[kind]:
        raise DomainError(
            _l("A township's fund is held by a township, the county's by a county unit.")
            if kind != "charity"
            else _l("A charity fund is held by a county or township unit.")
        )
    if db.session.scalar(select(Fund.id).where(Fund.code == code)) is not None:
        raise DomainError(_l("Another fund has the code %(code)s.", code=code))
    if db.session.scalar(select(Fund.id).where(Fund.owner_unit_id == owner_unit.id, Fund.kind == kind)) is not None:
        raise DomainError(_l("%(unit)s already holds a fund of this kind.", unit=owner_unit.name))
    fund = Fund(
        code=code, name=name, kind=kind, owner_unit_id=owner_unit.id, balance_fen=0, active=True, created_at=now
    )
    db.session.add(fund)
    db.session.flush()
    record("fund_created", actor_id=actor.id, now=now, target=code, name=name, fund_kind=kind, unit=owner_unit.name)
    return fund


def add_income(fund: Fund, *, actor: User, now: datetime, kind: str, amount_yuan, note: str) -> FundEntry:
    """拨入 or 捐赠: money into ``fund``, with who gave or allocated it and on what document (``note``)."""
    from hotline.relief.service import parse_amount

    if not access.can_record_fund_entry(actor, fund):
        raise NotAllowed(_l("Only a manager, an administrator or staff of the unit holding the fund can do this."))
    if kind not in INCOME_KINDS:
        raise DomainError(_l("Choose allocation or donation."))
    if not fund.active:
        raise DomainError(_l("This fund is closed."))
    fen = parse_amount(amount_yuan)
    note = checked_text(note, _l("Say where the money comes from (the document or the donor)."))
    locked = lock_fund(fund.id)
    return post_entry(locked, kind=kind, amount_fen=fen, actor=actor, now=now, note=note)


def reverse_entry(entry: FundEntry, *, actor: User, now: datetime, note: str) -> FundEntry:
    """冲正: undo an allocation or donation entered by mistake, once, if the balance still holds it."""
    fund = db.session.get(Fund, entry.fund_id)
    if not access.can_record_fund_entry(actor, fund):
        raise NotAllowed(_l("Only a manager, an administrator or staff of the unit holding the fund can do this."))
    if entry.kind not in INCOME_KINDS:
        raise DomainError(_l("Only an allocation or a donation can be reversed; a payout belongs to its case."))
    if db.session.scalar(select(FundEntry.id).where(FundEntry.reverses_id == entry.id)) is not None:
        raise DomainError(_l("This entry was already reversed."))
    note = checked_text(note, _l("Say why the entry is reversed."))
    locked = lock_fund(fund.id)
    return post_entry(
        locked, kind="reversal", amount_fen=-entry.amount_fen, actor=actor, now=now, note=note, reverses=entry
    )


# --- reading --------------------------------------------------------------------------------


@dataclass
class Statement:
    """A fund's entries in a period (local dates, both included) with the balance before and after."""

    fund: Fund
    first: object
    last: object
    opening_fen: int
    closing_fen: int
    entries: list[FundEntry]

    @property
    def income_fen(self) -> int:
        return sum(e.amount_fen for e in self.entries if e.amount_fen > 0)

    @property
    def outgo_fen(self) -> int:
        return -sum(e.amount_fen for e in self.entries if e.amount_fen < 0)


def statement(fund: Fund, start: datetime, end: datetime, first, last) -> Statement:
    """The entries of ``fund`` at ``start`` <= at < ``end``, oldest first, with the opening and closing balance
    (the sums of the entries before ``start`` and before ``end``)."""

    def balance_before(instant):
        return int(
            db.session.scalar(
                select(func.coalesce(func.sum(FundEntry.amount_fen), 0)).where(
                    FundEntry.fund_id == fund.id, FundEntry.at < instant
                )
            )
        )

    entries = list(
        db.session.scalars(
            select(FundEntry)
            .where(FundEntry.fund_id == fund.id, FundEntry.at >= start, FundEntry.at < end)
            .order_by(FundEntry.at, FundEntry.id)
        )
    )
    return Statement(fund, first, last, balance_before(start), balance_before(end), entries)
