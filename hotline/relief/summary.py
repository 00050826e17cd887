"""A case's relief at a glance: what the ticket page's relief panel and the API both show.

:func:`relief_summary` reads a ticket's reliefs, their payments, the fund entries
those payments wrote and the payments held for a fund's manager, and answers in
plain JSON values: amounts in integer fen, times as ISO 8601 UTC text, sources
and statuses as codes (the page and the API put them into words). It writes
nothing and needs no request; the caller decides whether the user may see the
ticket (:func:`hotline.access.can_see_ticket`).

Shape::

    {
      "limit_fen": 300000,                 # 小额先行救助: the case's limit without approval
      "granted_fen", "pending_fen",        # approved / waiting for a manager (一事一议)
      "paid_fen", "unpaid_fen",            # paid under approved reliefs / approved but not paid yet
      "held_fen",                          # payments held for a fund's manager (above its balance)
      "case_total_fen",                    # granted + pending: what the limit rule counts
      "limit": {"largest_grant_fen", "grant_over_fen", "case_over_fen", "over"},
      "by_source": [{"source", "granted_fen", "pending_fen", "paid_fen"}],
      "by_unit":   [{"unit_id", "unit", "granted_fen", "pending_fen", "paid_fen"}],
      "by_fund":   [{"fund_id", "fund", "paid_fen", "held_fen"}],   # fund_id None: paid from a budget
      "reliefs":   [{"id", "source", "unit_id", "unit", "status", "amount_fen", "paid_fen", "held_fen",
                     "requested_at", "requested_by", "decided_at", "decided_by", "decision_comment",
                     "limit": {"over", "over_fen"} | None, "fund_id", "fund",
                     "payments": [{"id", "amount_fen", "paid_at", "note", "fund_id"}],
                     "held": [{"id", "amount_fen", "requested_at", "fund_id", "status"}]}],
    }

``limit.over`` is ``grant`` when a single grant is above the limit (by
``grant_over_fen``), ``case_total`` when only the case's total is (by
``case_over_fen``), None when neither. Each relief's own ``limit`` says the same
as it stood when it was asked for: its amount, and the case's total with it
(the reliefs before it that were not rejected), against today's limit.
"""

from sqlalchemy import select

from hotline.extensions import db
from hotline.relief.service import limit_fen, limit_verdict
from models.fund import Fund, FundEntry, FundPayoutRequest
from models.ticket import Ticket


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _add(table: dict, key, **amounts) -> None:
    row = table.setdefault(key, {})
    for name, fen in amounts.items():
        row[name] = row.get(name, 0) + fen


def relief_summary(ticket: Ticket) -> dict:
    """Everything about a case's relief in one dict of plain values (see the module docstring)."""
    limit = limit_fen()
    reliefs = sorted(ticket.reliefs, key=lambda r: r.id)
    ids = [r.id for r in reliefs]
    entries = (
        list(db.session.scalars(select(FundEntry).where(FundEntry.relief_id.in_(ids), FundEntry.kind == "payout")))
        if ids
        else []
    )
    fund_of_payment = {e.payment_id: e.fund_id for e in entries}
    held = (
        list(
            db.session.scalars(
                select(FundPayoutRequest).where(FundPayoutRequest.relief_id.in_(ids)).order_by(FundPayoutRequest.id)
            )
        )
        if ids
        else []
    )
    fund_ids = set(fund_of_payment.values()) | {h.fund_id for h in held}
    fund_names = (
        dict(db.session.execute(select(Fund.id, Fund.name).where(Fund.id.in_(fund_ids))).all()) if fund_ids else {}
    )

    by_source: dict = {}
    by_unit: dict = {}
    by_fund: dict = {}
    rows = []
    running = 0
    totals = {"granted_fen": 0, "pending_fen": 0, "paid_fen": 0, "held_fen": 0}
    largest = 0
    for relief in reliefs:
        counted = relief.status != "rejected"
        verdict = None
        if counted:
            running += relief.amount_fen
            largest = max(largest, relief.amount_fen)
            found = limit_verdict(relief.amount_fen, running, limit)
            verdict = {"over": found["over"], "over_fen": found["over_fen"]} if found else None
        granted = relief.amount_fen if relief.status == "approved" else 0
        pending = relief.amount_fen if relief.status == "pending_approval" else 0
        paid = relief.paid_fen
        waiting = [h for h in held if h.relief_id == relief.id]
        held_now = sum(h.amount_fen for h in waiting if h.status == "pending")
        totals["granted_fen"] += granted
        totals["pending_fen"] += pending
        totals["paid_fen"] += paid
        totals["held_fen"] += held_now
        _add(by_source, relief.kind, granted_fen=granted, pending_fen=pending, paid_fen=paid)
        _add(by_unit, relief.granting_unit_id, granted_fen=granted, pending_fen=pending, paid_fen=paid)
        for payment in relief.payments:
            _add(by_fund, fund_of_payment.get(payment.id), paid_fen=payment.amount_fen, held_fen=0)
        for h in waiting:
            if h.status == "pending":
                _add(by_fund, h.fund_id, paid_fen=0, held_fen=h.amount_fen)
        relief_funds = {fund_of_payment.get(p.id) for p in relief.payments} | {h.fund_id for h in waiting}
        relief_funds.discard(None)
        fund_id = min(relief_funds) if relief_funds else None
        rows.append(
            {
                "id": relief.id,
                "source": relief.kind,
                "unit_id": relief.granting_unit_id,
                "unit": relief.granting_unit.name,
                "status": relief.status,
                "amount_fen": relief.amount_fen,
                "paid_fen": paid,
                "held_fen": held_now,
                "requested_at": _iso(relief.requested_at),
                "requested_by": relief.requested_by.display_name,
                "decided_at": _iso(relief.decided_at),
                "decided_by": relief.decided_by.display_name if relief.decided_by else None,
                "decision_comment": relief.decision_comment,
                "limit": verdict,
                "fund_id": fund_id,
                "fund": fund_names.get(fund_id),
                "payments": [
                    {
                        "id": p.id,
                        "amount_fen": p.amount_fen,
                        "paid_at": _iso(p.paid_at),
                        "note": p.note,
                        "fund_id": fund_of_payment.get(p.id),
                    }
                    for p in relief.payments
                ],
                "held": [
                    {
                        "id": h.id,
                        "amount_fen": h.amount_fen,
                        "requested_at": _iso(h.requested_at),
                        "fund_id": h.fund_id,
                        "status": h.status,
                    }
                    for h in waiting
                ],
            }
        )
    case_total = totals["granted_fen"] + totals["pending_fen"]
    grant_over = max(largest - limit, 0)
    case_over = max(case_total - limit, 0)
    units = {r.granting_unit_id: r.granting_unit.name for r in reliefs}
    return {
        "limit_fen": limit,
        **totals,
        "unpaid_fen": totals["granted_fen"] - totals["paid_fen"],
        "case_total_fen": case_total,
        "limit": {
            "largest_grant_fen": largest,
            "grant_over_fen": grant_over,
            "case_over_fen": case_over,
            "over": "grant" if grant_over else ("case_total" if case_over else None),
        },
        "by_source": [{"source": k, **v} for k, v in by_source.items()],
        "by_unit": [{"unit_id": k, "unit": units[k], **v} for k, v in by_unit.items()],
        "by_fund": [
            {"fund_id": k, "fund": fund_names.get(k), **v}
            for k, v in sorted(by_fund.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
        "reliefs": rows,
    }
