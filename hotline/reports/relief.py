"""Relief money in the reports: granted and paid by source, fund, paying unit, township and month, and the
time from the call to the first payment (p50 / p90 / p95).

Definitions (the README's "Figures" says the same):

- **granted**: reliefs approved in the period (at once within the limit, or by a manager's 一事一议
  decision), by the time of approval (``decided_at``); their full approved amount.
- **paid**: payments made in the period (``paid_at``), under any relief, whenever it was granted.
- by **source** the relief's kind (临时救助, 救急难基金, 慈善...); by **fund** the fund a payment was
  drawn from (its payout entry), "no fund" for a payment from a unit's budget (a granted amount has no
  fund until it is paid, so the fund table shows payments only); by **unit** the granting and paying unit;
  by **township** the caller's township (as on the response-time tables); by **month** the local
  (Asia/Shanghai) month of the approval or the payment.
- **time to first payment**: for tickets created in the period that received a payment, from the ticket's
  creation (the call or the report: when the person asked for help) to its first payment, whenever that
  came; beside it, from the first grant (``advance_relief_at``) to the first payment. Exact percentiles on
  both databases (:func:`hotline.reports.dialect.summarize_many`).

A department sees the money its own units (and those below) granted and paid (``Scope.units``: the granting
unit), and the payment times of the tickets referred to them. Amounts are integer fen.
"""

from datetime import datetime

from sqlalchemy import func, null, select

from hotline.access import referred_to
from hotline.extensions import db
from hotline.reports import dialect
from hotline.reports.service import Period, Scope, _rounded, _tickets_in
from models.contact import Contact
from models.fund import Fund, FundEntry
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.relief_service import ReliefService
from models.ticket import Ticket

#: What the money tables group by.
DIMENSIONS = ("source", "fund", "unit", "township", "month")
#: The groups of the time-to-first-payment table (None: the total alone).
TIME_DIMENSIONS = ("township", "month")


def _group(dimension: str, at):
    """The grouping expression of ``dimension`` for a statement over reliefs (and payments at ``at``)."""
    if dimension == "source":
        return AdvanceRelief.kind
    if dimension == "unit":
        return AdvanceRelief.granting_unit_id
    if dimension == "township":
        return Contact.township_id
    if dimension == "month":
        return dialect.local_bucket(at, "month")
    raise ValueError(f"unknown dimension {dimension!r}")


def _scoped(stmt, scope: Scope):
    return stmt if scope.everything else stmt.where(AdvanceRelief.granting_unit_id.in_(scope.units))


def _paid(period: Period, scope: Scope, dimension: str) -> dict:
    """group -> (paid fen, payments, cases) of the payments made in ``period``."""
    at = AdvanceReliefPayment.paid_at
    group = FundEntry.fund_id if dimension == "fund" else _group(dimension, at)
    stmt = (
        select(
            group.label("g"),
            func.sum(AdvanceReliefPayment.amount_fen),
            func.count(AdvanceReliefPayment.id),
            func.count(AdvanceRelief.ticket_id.distinct()),
        )
        .select_from(AdvanceReliefPayment)
        .join(AdvanceRelief, AdvanceRelief.id == AdvanceReliefPayment.relief_id)
        .where(at >= period.start, at < period.end)
        .group_by(group)
    )
    if dimension == "fund":
        stmt = stmt.outerjoin(FundEntry, FundEntry.payment_id == AdvanceReliefPayment.id)
    if dimension == "township":
        stmt = stmt.join(Ticket, Ticket.id == AdvanceRelief.ticket_id).outerjoin(
            Contact, Contact.id == Ticket.contact_id
        )
    return {g: (int(fen or 0), int(n), int(cases)) for g, fen, n, cases in db.session.execute(_scoped(stmt, scope))}


def _granted(period: Period, scope: Scope, dimension: str) -> dict:
    """group -> (granted fen, reliefs, cases) of the reliefs approved in ``period``."""
    at = AdvanceRelief.decided_at
    group = _group(dimension, at)
    stmt = (
        select(
            group.label("g"),
            func.sum(AdvanceRelief.amount_fen),
            func.count(AdvanceRelief.id),
            func.count(AdvanceRelief.ticket_id.distinct()),
        )
        .where(AdvanceRelief.status == "approved", at >= period.start, at < period.end)
        .group_by(group)
    )
    if dimension == "township":
        stmt = stmt.join(Ticket, Ticket.id == AdvanceRelief.ticket_id).outerjoin(
            Contact, Contact.id == Ticket.contact_id
        )
    return {g: (int(fen or 0), int(n), int(cases)) for g, fen, n, cases in db.session.execute(_scoped(stmt, scope))}


def relief_money(period: Period, scope: Scope, dimension: str) -> dict:
    """Granted and paid in ``period`` per group of ``dimension``, and the total.

    Returns ``{"rows": [{"group", "granted_fen", "granted_n", "granted_cases", "paid_fen", "paid_n",
    "paid_cases"}], "total": {...the same without group}}``; the fund table has no granted figures (None).
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    paid = _paid(period, scope, dimension)
    granted = {} if dimension == "fund" else _granted(period, scope, dimension)
    none = (0, 0, 0)
    rows = []
    for g in set(paid) | set(granted):
        gf, gn, gc = granted.get(g, none)
        pf, pn, pc = paid.get(g, none)
        rows.append(
            {
                "group": g,
                "granted_fen": None if dimension == "fund" else gf,
                "granted_n": None if dimension == "fund" else gn,
                "granted_cases": None if dimension == "fund" else gc,
                "paid_fen": pf,
                "paid_n": pn,
                "paid_cases": pc,
            }
        )
    rows.sort(key=lambda r: (r["group"] is None, str(r["group"])))
    total_paid = _paid(period, scope, "source")  # every payment once, whatever the table's groups
    total_granted = _granted(period, scope, "source")
    cases = _cases(period, scope)
    total = {
        "granted_fen": None if dimension == "fund" else sum(v[0] for v in total_granted.values()),
        "granted_n": None if dimension == "fund" else sum(v[1] for v in total_granted.values()),
        "granted_cases": None if dimension == "fund" else cases["granted"],
        "paid_fen": sum(v[0] for v in total_paid.values()),
        "paid_n": sum(v[1] for v in total_paid.values()),
        "paid_cases": cases["paid"],
    }
    return {"rows": rows, "total": total}


def _cases(period: Period, scope: Scope) -> dict:
    """Distinct tickets with a relief approved / a payment made in ``period`` (a case counts once in a total)."""
    granted = _scoped(
        select(func.count(AdvanceRelief.ticket_id.distinct())).where(
            AdvanceRelief.status == "approved",
            AdvanceRelief.decided_at >= period.start,
            AdvanceRelief.decided_at < period.end,
        ),
        scope,
    )
    paid = _scoped(
        select(func.count(AdvanceRelief.ticket_id.distinct()))
        .select_from(AdvanceReliefPayment)
        .join(AdvanceRelief, AdvanceRelief.id == AdvanceReliefPayment.relief_id)
        .where(AdvanceReliefPayment.paid_at >= period.start, AdvanceReliefPayment.paid_at < period.end),
        scope,
    )
    return {"granted": int(db.session.scalar(granted)), "paid": int(db.session.scalar(paid))}


def services_share(period: Period, scope: Scope) -> dict:
    """服务类救助 beside the money: of the cases helped in ``period`` (a relief approved in it, or a service
    that started in it), how many received a service. A department counts the reliefs its units granted and
    the services on the cases referred to them, as the other figures."""
    money = select(AdvanceRelief.ticket_id).where(
        AdvanceRelief.status == "approved",
        AdvanceRelief.decided_at >= period.start,
        AdvanceRelief.decided_at < period.end,
    )
    served = select(ReliefService.ticket_id).where(
        ReliefService.started_on >= period.first, ReliefService.started_on <= period.last
    )
    if not scope.everything:
        served = served.where(referred_to(scope.units, ReliefService.ticket_id))
    money, served = set(db.session.scalars(_scoped(money, scope))), set(db.session.scalars(served))
    helped = money | served
    return {
        "helped": len(helped),
        "with_services": len(served),
        "share": 100.0 * len(served) / len(helped) if helped else None,
    }


def fund_names() -> dict[int, str]:
    return dict(db.session.execute(select(Fund.id, Fund.name)).all())


def first_payment_times(period: Period, scope: Scope, now: datetime, dimension: str | None) -> dict:
    """p50 / p90 / p95, mean and count of the time to the first payment of tickets created in ``period``:
    ``from_call`` (ticket created -> first payment) and ``from_grant`` (first grant -> first payment), per
    group of ``dimension`` (``township``, ``month`` of creation, or None for the total alone).

    Returns ``{"from_call": (groups, total), "from_grant": (groups, total)}`` with figures as
    :func:`hotline.reports.dialect.summarize` gives them (seconds), rounded.
    """
    if dimension is not None and dimension not in TIME_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    first = (
        select(
            AdvanceRelief.ticket_id.label("ticket_id"),
            func.min(AdvanceReliefPayment.paid_at).label("first_paid_at"),
        )
        .join(AdvanceRelief, AdvanceRelief.id == AdvanceReliefPayment.relief_id)
        .group_by(AdvanceRelief.ticket_id)
        .subquery("fp")
    )
    columns = [
        Ticket.id.label("id"),
        dialect.seconds_between(first.c.first_paid_at, Ticket.created_at).label("from_call"),
        null().label("st_call"),
        dialect.seconds_between(first.c.first_paid_at, Ticket.advance_relief_at).label("from_grant"),
        null().label("st_grant"),
    ]
    stmt = select(*columns).select_from(Ticket).join(first, first.c.ticket_id == Ticket.id).where(_tickets_in(period))
    if dimension == "township":
        stmt = stmt.outerjoin(Contact, Contact.id == Ticket.contact_id).add_columns(Contact.township_id.label("g"))
    elif dimension == "month":
        stmt = stmt.add_columns(dialect.local_bucket(Ticket.created_at, "month").label("g"))
    if not scope.everything:
        stmt = stmt.where(referred_to(scope.units))
    rows = stmt.subquery("pt")
    pairs = [("from_call", "st_call"), ("from_grant", "st_grant")]
    found = dialect.summarize_many(rows, pairs, grouped=dimension is not None)
    out = {}
    for (dur, _state), (groups, total) in zip(pairs, found, strict=True):
        out[dur] = ({g: _rounded(v) for g, v in groups.items() if v["n"]}, _rounded(total))
    return out
