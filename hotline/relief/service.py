"""Advance relief rules (先行救助): one function per action, each with an explicit ``now``.

Help first, paperwork later. The first-contact owner, a manager, or staff of a
unit the ticket is referred to (a township grants 小额先行救助 itself) grants
relief in the name of a unit. Up to the policy limit (``sla.toml``,
``[advance_relief] township_limit_yuan``) the grant is approved at once; above
it the relief waits for a manager other than the one who asked, who decides and
writes why (一事一议). One
approval may be paid in stages (一次审批、分阶段救助), never beyond the approved
amount. The first approved relief stops the ticket's advance-relief clock and
starts its paperwork clock (补齐手续); "not needed" stops the advance-relief
clock without one.

The limit applies to the case, not to each form: the ticket's approved and
pending reliefs count with the new amount, so a case cannot be split into
small grants that each stay under the township's cap (拆分发放 is one of the
things audits for 人情保 look for). A case's first relief is simply compared
with the limit.

Amounts are integer fen, in the database and in events (``amount_fen``, with the
yuan text beside it for people reading the log). Every action checks the
version the user's form was built from (``StaleError``), writes a TicketEvent
with the amount and the reason, re-syncs the ticket's clocks, and leaves the
commit to the caller.
"""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from hotline import access
from hotline.access import GRANTING_LEVELS
from hotline.errors import DomainError, NotAllowed
from hotline.escalation import clocks, sla
from hotline.extensions import db
from hotline.formatting import format_yuan
from hotline.funds import service as funds
from hotline.funds.policy import funds_policy
from hotline.relief import documents, integrity
from hotline.relief.rules import relief_rules
from hotline.tickets.service import add_event
from hotline.user_notifications import notify
from hotline.validation import check_version, checked_text
from models.department import Department
from models.fund import Fund, FundPayoutRequest
from models.relief import KINDS, AdvanceRelief, AdvanceReliefPayment
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent
from models.user import User

#: Ten million yuan: far above any relief, far below what a BIGINT of fen holds. Beyond it is a typo.
MAX_FEN = 10_000_000 * 100
#: Event kinds written here, for the panel's history.
EVENT_KINDS = (
    "relief_granted",
    "relief_requested",
    "relief_approved",
    "relief_rejected",
    "relief_paid",
    "relief_payment_held",
    "relief_payment_refused",
    "relief_not_needed",
    "paperwork_done",
)
_AMOUNT_RE = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$")
_HUNDRED = Decimal(100)
_FEN = Decimal("0.01")


# --- amounts -------------------------------------------------------------------------------


def parse_amount(value: Decimal | str | int | None) -> int:
    """An amount in yuan as typed (``1500``, ``"1,500.50"``, ``"¥800"``) -> fen.

    More than two decimals, zero, negative or absurd amounts are refused with a
    message for the user.
    """
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        text = re.sub(r"[\s¥￥元]", "", str(value or "")).replace("，", ",")
        if not text:
            raise DomainError(_l("Write the amount in yuan."))
        if not _AMOUNT_RE.match(text):
            raise DomainError(_l("Write the amount in yuan, for example 1500 or 1,500.50."))
        amount = Decimal(text.replace(",", ""))
    if not amount.is_finite():
        raise DomainError(_l("Write the amount in yuan, for example 1500 or 1,500.50."))
    if amount <= 0:
        raise DomainError(_l("The amount must be more than zero."))
    if amount * _HUNDRED > MAX_FEN:
        raise DomainError(_l("The amount is too large (at most %(max)s).", max=format_yuan(MAX_FEN)))
    try:
        exact = amount.quantize(_FEN) == amount
    except InvalidOperation:
        exact = False
    if not exact:
        raise DomainError(_l("An amount has at most two decimals (fen)."))
    return int(amount * _HUNDRED)


def _plain_yuan(fen: int) -> str:
    """Fen as a plain decimal text for event payloads (``1234.50``), exact on every database."""
    return f"{fen // 100}.{fen % 100:02d}"


def case_total_fen(ticket: Ticket) -> int:
    """What the case has been granted or asked for so far (approved and pending reliefs): the limit applies to it."""
    return sum(r.amount_fen for r in ticket.reliefs if r.status != "rejected")


def limit_fen() -> int:
    """小额先行救助: what a case may receive without a manager's approval, in fen."""
    return sla.sla_policy().advance_relief_limit_yuan * 100


def limit_verdict(amount_fen: int, case_total: int, limit: int) -> dict | None:
    """Which part of the limit rule a grant of ``amount_fen`` passed, and by how much; None when within it.

    ``case_total`` is the case's approved and pending reliefs with this one. ``over`` is ``grant`` when the
    grant alone is above the limit (``over_fen`` = amount - limit), else ``case_total`` when only the case's
    total is (``over_fen`` = total - limit).
    """
    if amount_fen > limit:
        return {"over": "grant", "over_fen": amount_fen - limit, "limit_fen": limit, "case_total_fen": case_total}
    if case_total > limit:
        return {"over": "case_total", "over_fen": case_total - limit, "limit_fen": limit, "case_total_fen": case_total}
    return None


# --- helpers -------------------------------------------------------------------------------


def ticket_of(relief: AdvanceRelief) -> Ticket:
    return db.session.get(Ticket, relief.ticket_id)


def _event(ticket: Ticket, actor: User, kind: str, now: datetime, relief: AdvanceRelief | None = None, **payload):
    """The TicketEvent of a relief action; a unit's own actions are tagged with its referral so its page shows them."""
    if relief is not None:
        payload = {
            "relief": relief.id,
            "relief_kind": relief.kind,
            "unit": relief.granting_unit.name,
            "amount_fen": relief.amount_fen,
            "amount": _plain_yuan(relief.amount_fen),
            **payload,
        }
    referral = access.relief_referral(actor, ticket)  # before the event exists: the query autoflushes
    ev = add_event(ticket, actor, kind, now, **payload)
    ev.referral_id = referral.id if referral else None
    return ev


def _record_grant(ticket: Ticket, now: datetime) -> None:
    """The case got relief: the advance-relief clock's goal is met and the paperwork clock starts.

    Only the first approved relief counts (later ones do not move the paperwork
    deadline). A case recorded as "not needed" that gets relief after all is
    re-dated to this grant, so time-to-relief and the paperwork clock are measured
    from the real help.
    """
    if ticket.advance_relief_outcome != "granted":
        ticket.advance_relief_at = now
        ticket.advance_relief_outcome = "granted"


# --- actions -------------------------------------------------------------------------------


def grant_relief(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    kind: str,
    amount_yuan: Decimal | str,
    granting_unit: Department | None,
    reason: str,
    expected_version: int | None = None,
    case_conference_ref: str | None = None,
) -> AdvanceRelief:
    """先行救助: grant ``amount_yuan`` of ``kind`` relief, paid by ``granting_unit``, for ``reason``.

    Within the limit (the case's reliefs so far plus this one) it is approved at
    once by ``actor`` and the clocks move; above it, it waits as
    ``pending_approval`` and every active manager is notified (一事一议).
    Department staff grant in their own unit's name only. ``expected_version`` is
    the ticket's. The integrity checks (:mod:`hotline.relief.integrity`) run
    first: above the 一事一议 cap ``case_conference_ref`` (or the minutes among
    the case's papers) is required; a repeat grant warns; a grant to the
    requester's declared relative waits for another manager at any amount.
    """
    if not access.can_grant_relief(actor, ticket):
        raise NotAllowed(
            _l(
                "Only the first-contact owner, a manager, or staff of a unit this case is referred to "
                "can grant advance relief."
            )
        )
    if ticket.status not in OPEN_STATUSES:
        raise DomainError(_l("Advance relief can only be granted on an open ticket. Reopen it first."))
    if kind not in KINDS:
        raise DomainError(_l("Choose the kind of relief."))
    fen = parse_amount(amount_yuan)
    if granting_unit is None or not granting_unit.active or granting_unit.kind == "hotline":
        raise DomainError(_l("Choose the unit that grants and pays the relief."))
    if granting_unit.level not in GRANTING_LEVELS:
        raise DomainError(_l("Relief is granted by a township or a county unit, not by a village or grid."))
    if not access.can_grant_for(actor, granting_unit):
        raise NotAllowed(_l("Your unit can grant relief only in its own name."))
    reason = checked_text(reason, _l("Give the reason for the relief: audits check every amount and why it was given."))
    check_version(ticket, expected_version)
    case_total = fen + case_total_fen(ticket)
    verdict = limit_verdict(fen, case_total, limit_fen())
    check = integrity.check_grant(
        ticket, actor=actor, now=now, case_total_fen=case_total, conference_ref=case_conference_ref
    )
    within = verdict is None and not check.requester_is_relative
    relief = AdvanceRelief(
        kind=kind,
        amount_fen=fen,
        granting_unit=granting_unit,
        status="approved" if within else "pending_approval",
        reason=reason,
        requested_by_id=actor.id,
        requested_at=now,
        decided_by_id=actor.id if within else None,
        decided_at=now if within else None,
        integrity=check.record(),
        case_conference_ref=check.conference_ref,
        case_conference_document_id=check.conference_document_id,
    )
    ticket.reliefs.append(relief)
    ticket.updated_at = now
    db.session.flush()
    _event(
        ticket,
        actor,
        "relief_granted" if within else "relief_requested",
        now,
        relief,
        reason=reason,
        case_total_fen=case_total,
        limit_fen=limit_fen(),
        **({"over": verdict["over"], "over_fen": verdict["over_fen"]} if verdict else {}),
    )
    integrity.record_warning(ticket, relief, check, actor=actor, now=now)
    if within:
        _record_grant(ticket, now)
    else:
        excluded = {actor.id, *check.declarers}
        managers = db.session.scalars(
            select(User.id).where(User.role == "manager", User.active.is_(True), User.id.not_in(excluded))
        )
        for manager_id in managers:
            notify(
                manager_id,
                "relief_pending",
                now=now,
                ticket_id=ticket.id,
                amount=format_yuan(fen),
                unit=granting_unit.name,
            )
    clocks.sync_ticket(ticket, now)
    if within:
        documents.complete_if_papers_done(ticket, actor=actor, now=now)
    return relief


def decide_relief(
    relief: AdvanceRelief,
    *,
    actor: User,
    now: datetime,
    approve: bool,
    comment: str,
    expected_version: int | None = None,
) -> None:
    """一事一议: a manager approves or rejects a relief above the limit, writing the reasoning.

    Never the manager who asked for it (four eyes). Approval counts as the grant
    for the ticket's clocks; the requester is told either way.
    """
    if not access.can_supervise(actor):
        raise NotAllowed(_l("Only a manager can decide on advance relief above the limit (一事一议)."))
    if relief.requested_by_id == actor.id:
        raise NotAllowed(_l("You asked for this relief: another manager must decide on it (four eyes)."))
    integrity.check_decider(relief, actor)
    if relief.status != "pending_approval":
        raise DomainError(_l("This relief is not waiting for a decision."))
    comment = checked_text(comment, _l("Write the reasoning of the decision (一事一议): audits read it."))
    check_version(relief, expected_version)
    ticket = ticket_of(relief)
    relief.status = "approved" if approve else "rejected"
    relief.decided_by_id = actor.id
    relief.decided_at = now
    relief.decision_comment = comment
    ticket.updated_at = now
    _event(ticket, actor, "relief_approved" if approve else "relief_rejected", now, relief, comment=comment)
    if approve:
        _record_grant(ticket, now)
    notify(
        relief.requested_by_id,
        "relief_approved" if approve else "relief_rejected",
        now=now,
        ticket_id=ticket.id,
        amount=format_yuan(relief.amount_fen),
        unit=relief.granting_unit.name,
    )
    clocks.sync_ticket(ticket, now)
    if approve:
        documents.complete_if_papers_done(ticket, actor=actor, now=now)


def held_fen(relief: AdvanceRelief) -> int:
    """Payments of ``relief`` held for a fund's manager (above the fund's balance), not paid yet."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(FundPayoutRequest.amount_fen), 0)).where(
                FundPayoutRequest.relief_id == relief.id, FundPayoutRequest.status == "pending"
            )
        )
    )


def record_payment(
    relief: AdvanceRelief,
    *,
    actor: User,
    now: datetime,
    amount_yuan: Decimal | str,
    note: str,
    expected_version: int | None = None,
) -> AdvanceReliefPayment | FundPayoutRequest:
    """分阶段救助: one payment under an approved relief; all payments together stay within the approval.

    ``expected_version`` is the relief's. The relief row is rewritten with each
    payment so its version moves: two payments entered at once from the same page
    cannot both pass the total check.

    A relief whose source draws on a fund (``funds.toml``) is paid from the fund its
    granting unit holds: the payout entry is written with the payment, under the
    fund's lock, and a payment above the fund's balance is refused, or, when the
    policy says ``needs_approval``, held for the fund's manager (the
    :class:`FundPayoutRequest` is returned instead of a payment).
    """
    ticket = ticket_of(relief)
    if not access.can_pay_relief(actor, relief, ticket):
        raise NotAllowed(
            _l("Only the first-contact owner, a manager, or staff of the granting unit can record a payment.")
        )
    if relief.status == "pending_approval":
        raise DomainError(_l("This relief waits for a manager's approval: nothing can be paid under it yet."))
    if relief.status != "approved":
        raise DomainError(_l("This relief was rejected: nothing can be paid under it."))
    fen = parse_amount(amount_yuan)
    note = checked_text(note, _l("Say what this payment is (which stage, how it was paid)."))
    check_version(relief, expected_version)
    fund = funds.fund_for_relief(relief)
    if fund is not None:
        fund = funds.lock_fund(fund.id)  # held to commit: payouts from one fund are checked one at a time
    paid, held = relief.paid_fen, held_fen(relief)
    if paid + held + fen > relief.amount_fen:
        raise DomainError(
            _l(
                "The payments would come to %(total)s, more than the %(approved)s approved. "
                "At most %(left)s can still be paid.",
                total=format_yuan(paid + held + fen),
                approved=format_yuan(relief.amount_fen),
                left=format_yuan(relief.amount_fen - paid - held),
            )
        )
    if fund is not None and fund.balance_fen < fen:
        if funds_policy().overdraft != "needs_approval":
            raise DomainError(funds.shortfall_message(fund, fen))
        return _hold(relief, ticket, actor=actor, now=now, fen=fen, note=note, fund=fund)
    return _pay(relief, ticket, actor=actor, now=now, fen=fen, note=note, fund=fund)


def _pay(relief, ticket, *, actor, now, fen, note, fund, released=None) -> AdvanceReliefPayment:
    """The payment, the fund's payout entry (``fund`` locked, or None for a budget), the event and the clocks."""
    payment = AdvanceReliefPayment(amount_fen=fen, paid_at=now, recorded_by_id=actor.id, note=note)
    relief.payments.append(payment)
    flag_modified(relief, "status")  # an UPDATE that bumps and checks the relief's version
    ticket.updated_at = now
    db.session.flush()
    extra = {}
    if fund is not None:
        entry = funds.post_entry(
            fund, kind="payout", amount_fen=-fen, actor=actor, now=now, note=note, relief=relief, payment_id=payment.id
        )
        extra = {"fund_id": fund.id, "fund": fund.name, "fund_balance_fen": entry.balance_after_fen}
    if released is not None:
        extra["released"] = released.id
    _event(
        ticket,
        actor,
        "relief_paid",
        now,
        relief,
        payment=payment.id,
        paid_fen=fen,
        paid=_plain_yuan(fen),
        paid_total_fen=relief.paid_fen,
        note=note,
        **extra,
    )
    clocks.sync_ticket(ticket, now)
    return payment


def _hold(relief, ticket, *, actor, now, fen, note, fund) -> FundPayoutRequest:
    """A payment above ``fund``'s balance, held for the fund's manager (``needs_approval``); nothing is paid."""
    held = FundPayoutRequest(
        fund_id=fund.id,
        relief_id=relief.id,
        amount_fen=fen,
        note=note,
        status="pending",
        requested_by_id=actor.id,
        requested_at=now,
    )
    db.session.add(held)
    flag_modified(relief, "status")  # two holds entered at once cannot together pass the approved amount
    ticket.updated_at = now
    db.session.flush()
    _event(
        ticket,
        actor,
        "relief_payment_held",
        now,
        relief,
        held=held.id,
        paid_fen=fen,
        paid=_plain_yuan(fen),
        fund_id=fund.id,
        fund=fund.name,
        fund_balance_fen=fund.balance_fen,
        note=note,
    )
    managers = db.session.scalars(
        select(User.id).where(
            User.active.is_(True),
            User.id != actor.id,
            (User.role == "manager") | ((User.role == "department") & (User.department_id == fund.owner_unit_id)),
        )
    )
    for manager_id in managers:
        notify(manager_id, "payout_held", now=now, ticket_id=ticket.id, amount=format_yuan(fen), fund=fund.name)
    return held


def decide_payout(
    held: FundPayoutRequest,
    *,
    actor: User,
    now: datetime,
    release: bool,
    comment: str,
    expected_version: int | None = None,
) -> AdvanceReliefPayment | None:
    """The fund's manager releases a held payment (paid from the fund now: the balance must cover it) or
    refuses it (nothing is paid), with the reasoning. Never the one who entered it (four eyes)."""
    fund = db.session.get(Fund, held.fund_id)
    if not access.can_decide_payout(actor, held, fund):
        if access.can_manage_fund(actor, fund):
            raise NotAllowed(_l("You entered this payment: another manager of the fund must decide on it (four eyes)."))
        raise NotAllowed(_l("Only a manager of the fund can release or refuse a payment held for it."))
    if held.status != "pending":
        raise DomainError(_l("This payment is not waiting for a decision."))
    comment = checked_text(comment, _l("Write the reasoning of the decision: audits read it."))
    check_version(held, expected_version)
    relief = db.session.get(AdvanceRelief, held.relief_id)
    ticket = ticket_of(relief)
    payment = None
    if release:
        fund = funds.lock_fund(fund.id)
        if fund.balance_fen < held.amount_fen:
            raise DomainError(funds.shortfall_message(fund, held.amount_fen))
        payment = _pay(
            relief, ticket, actor=actor, now=now, fen=held.amount_fen, note=held.note, fund=fund, released=held
        )
    else:
        _event(
            ticket,
            actor,
            "relief_payment_refused",
            now,
            relief,
            held=held.id,
            paid_fen=held.amount_fen,
            fund=fund.name,
            comment=comment,
        )
        ticket.updated_at = now
    held.status = "released" if release else "refused"
    held.decided_by_id = actor.id
    held.decided_at = now
    held.decision_comment = comment
    held.payment_id = payment.id if payment is not None else None
    notify(
        held.requested_by_id,
        "payout_released" if release else "payout_refused",
        now=now,
        ticket_id=ticket.id,
        amount=format_yuan(held.amount_fen),
        fund=fund.name,
    )
    db.session.flush()
    return payment


def relief_not_needed(
    ticket: Ticket, *, actor: User, now: datetime, reason: str, expected_version: int | None = None
) -> None:
    """The case needs no advance relief (already covered, help in kind...): the P0/P1 clock stops, with a reason."""
    if not access.can_record_relief_not_needed(actor, ticket):
        raise NotAllowed(_l("Only the first-contact owner of this ticket or a manager can do this."))
    if ticket.status not in OPEN_STATUSES:
        raise DomainError(_l("Only an open ticket's advance relief can be recorded as not needed."))
    if ticket.advance_relief_outcome == "granted":
        raise DomainError(_l("Advance relief was already granted on this ticket."))
    if ticket.advance_relief_at is not None:
        raise DomainError(_l("Advance relief is already recorded as not needed."))
    if not clocks.has_clock(ticket.priority, "advance_relief"):
        raise DomainError(_l("Only P0 and P1 tickets have an advance-relief deadline to stop."))
    if any(r.status == "pending_approval" for r in ticket.reliefs):
        raise DomainError(_l("A relief waits for a manager's decision: it must be decided first."))
    reason = checked_text(reason, _l("Say why no advance relief is needed."))
    check_version(ticket, expected_version)
    ticket.advance_relief_at = now
    ticket.advance_relief_outcome = "not_needed"
    ticket.updated_at = now
    _event(ticket, actor, "relief_not_needed", now, reason=reason)
    clocks.sync_ticket(ticket, now)


def complete_paperwork(
    ticket: Ticket, *, actor: User, now: datetime, note: str, expected_version: int | None = None
) -> None:
    """补齐手续: the applicant's documents for the relief already given are complete; the paperwork clock stops.

    Called when the last paper of the checklist is uploaded (:mod:`hotline.relief.documents`), with the
    papers as ``note``. While papers are missing only a manager may record it, by hand, with the reason
    as ``note`` (papers checked outside the system); the event then lists what was missing.
    """
    if not access.can_complete_paperwork(actor, ticket):
        raise NotAllowed(
            _l("Only the first-contact owner, a manager, or staff of a granting unit can record the paperwork.")
        )
    if ticket.advance_relief_outcome != "granted":
        raise DomainError(_l("No advance relief was granted on this ticket: there is no paperwork to complete."))
    if ticket.paperwork_done_at is not None:
        raise DomainError(_l("The paperwork is already complete."))
    missing = documents.missing_papers(ticket)
    if missing and not access.can_override_paperwork(actor):
        raise NotAllowed(
            _l(
                "Papers of the checklist are missing: %(papers)s. Add them to the case; only a manager can "
                "record the paperwork without them.",
                papers="、".join(relief_rules().document_label(kind) for kind in missing),
            )
        )
    note = checked_text(note, _l("Say which documents were completed."))
    check_version(ticket, expected_version)
    granted = sum(r.amount_fen for r in ticket.reliefs if r.status == "approved")
    on_time = ticket.paperwork_due_at is None or now <= ticket.paperwork_due_at
    ticket.paperwork_done_at = now
    ticket.updated_at = now
    _event(
        ticket,
        actor,
        "paperwork_done",
        now,
        note=note,
        amount_fen=granted,
        amount=_plain_yuan(granted),
        on_time=on_time,
        **({"missing": missing} if missing else {}),
    )
    clocks.sync_ticket(ticket, now)


# --- reading -------------------------------------------------------------------------------


def relief_events(ticket: Ticket) -> list[TicketEvent]:
    """The ticket's relief history (every decision and amount with its reason), newest first."""
    return list(
        db.session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(EVENT_KINDS))
            .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        )
    )
