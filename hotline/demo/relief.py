"""Demo advance relief: a few P1 cases at each stage, written through the relief and funds services.

Granted within the limit, paid in two stages and followed by a home visit (paperwork still due), above
the limit and waiting for the manager (一事一议), granted with paperwork
completed, recorded as not needed, and one family helped from three sources at
once (临时救助, then the town's and the county's 救急难基金). The town's and the
county's emergency funds and the charity's fund are set up with their first
allocations and a donation before any relief is paid.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from hotline.extensions import db
from hotline.funds import service as funds
from hotline.relief import service, services
from hotline.timeutil import local_date
from models.department import Department
from models.ticket import Ticket
from models.user import User


def _at(ticket: Ticket, hours: float, now: datetime) -> datetime:
    """``hours`` after the call, never later than the moment the demo is loaded."""
    return min(ticket.created_at + timedelta(hours=hours), now)


def _township(ticket: Ticket, units: dict[str, Department]) -> Department:
    township_id = ticket.contact.township_id if ticket.contact else None
    return db.session.get(Department, township_id) if township_id else units["town_chengguan"]


def _staged(ticket, owner, units, now):
    relief = service.grant_relief(
        ticket,
        actor=owner,
        now=_at(ticket, 2, now),
        kind="temporary_assistance",
        amount_yuan="2800",
        granting_unit=_township(ticket, units),
        reason="房屋失火，一家四口生活无着，先行发放临时救助（小额先行救助，乡镇审批）。",
    )
    service.record_payment(
        relief, actor=owner, now=_at(ticket, 3, now), amount_yuan="1500", note="第一期：现金发放，购买衣物和口粮"
    )
    service.record_payment(
        relief, actor=owner, now=_at(ticket, 26, now), amount_yuan="1300.00", note="第二期：临时租房押金，转账"
    )
    visited = _at(ticket, 28, now)
    services.record_service(
        ticket,
        actor=owner,
        now=visited,
        kind="visit",
        provider_unit=_township(ticket, units),
        provider_org=None,
        started_on=local_date(visited),
        ended_on=None,
        hours="1.5",
        outcome="入户探视：一家人暂住亲戚家，孩子已返校；协助申请住房救助。",
    )


def _pending(ticket, owner, units, now):
    service.grant_relief(
        ticket,
        actor=owner,
        now=_at(ticket, 1, now),
        kind="emergency_fund",
        amount_yuan="8000",
        granting_unit=units["charity"],
        reason="医院要求先交两万元押金，家庭仅有三千元，申请救急难基金垫付，需一事一议。",
    )


def _paperwork_done(ticket, owner, units, now):
    relief = service.grant_relief(
        ticket,
        actor=owner,
        now=_at(ticket, 3, now),
        kind="medical_assistance",
        amount_yuan="1500",
        granting_unit=units["medical_insurance"],
        reason="突发疾病住院，先行医疗救助，手续后补。",
    )
    service.record_payment(relief, actor=owner, now=_at(ticket, 4, now), amount_yuan="1500", note="直接支付给医院")
    # The demo uploads no files: a manager records the papers checked at the bureau's counter (by hand).
    manager = db.session.scalar(select(User).where(User.role == "manager", User.active.is_(True)).order_by(User.id))
    service.complete_paperwork(
        ticket,
        actor=manager or owner,
        now=_at(ticket, 60, now),
        note="申请书、身份证复印件、诊断证明、费用清单已在医保局窗口核验",
    )


def _not_needed(ticket, owner, units, now):
    service.relief_not_needed(
        ticket, actor=owner, now=_at(ticket, 2, now), reason="亲属已垫付车票和生活费，无需先行救助。"
    )


def _several_funds(ticket, owner, units, now):
    """A 60,000 yuan hospital bill: 临时救助 from the township at once, then 10,000 from the town's fund and
    40,000 from the county's fund, each decided by the manager (一事一议), the county's paid in two stages."""
    manager = db.session.scalars(select(User).where(User.role == "manager").order_by(User.id)).first()
    town = units["town_chengguan"]
    first = service.grant_relief(
        ticket,
        actor=owner,
        now=_at(ticket, 1, now),
        kind="temporary_assistance",
        amount_yuan="3000",
        granting_unit=town,
        reason="患儿白血病住院，医院催缴押金，家中积蓄已用尽，先行发放临时救助。",
    )
    service.record_payment(first, actor=owner, now=_at(ticket, 2, now), amount_yuan="3000", note="现金发放")
    for hours, amount, unit, reason in (
        (4, "10000", town, "住院费用六万元，临时救助不足，申请镇救急难基金。"),
        (6, "40000", units["charity"], "镇基金仍不足以覆盖治疗费用，申请县救急难基金，提交个案会商。"),
    ):
        relief = service.grant_relief(
            ticket,
            actor=owner,
            now=_at(ticket, hours, now),
            kind="emergency_fund",
            amount_yuan=amount,
            granting_unit=unit,
            reason=reason,
            # Above the 一事一议 cap the case conference's decision is attached (relief_rules.toml).
            case_conference_ref="县救急难个案会商纪要〔2026〕3号" if amount == "40000" else None,
        )
        service.decide_relief(
            relief, actor=manager, now=_at(ticket, hours + 1, now), approve=True, comment="个案会商同意，分期拨付"
        )
        paid = "20000" if amount == "40000" else amount
        service.record_payment(
            relief, actor=owner, now=_at(ticket, hours + 2, now), amount_yuan=paid, note="转账至医院"
        )


#: (code, name, kind, holding unit, allocated yuan, what the allocation rests on)
DEMO_FUNDS = (
    ("town_chengguan_jjn", "城关镇救急难基金", "town", "town_chengguan", "50000", "镇财政年度预算拨入"),
    ("county_jjn", "县救急难基金", "county", "charity", "500000", "县财政拨入（县财〔2025〕8号）"),
    ("charity_cishan", "县慈善总会慈善救助金", "charity", "charity", "100000", "年度慈善募集资金划入"),
)


def load_demo_funds(*, units: dict[str, Department], now: datetime) -> list:
    """The township's and the county's 救急难基金 and the charity's fund, with their first allocations and a
    donation, dated a month before ``now``. The caller commits."""
    manager = db.session.scalars(select(User).where(User.role == "manager").order_by(User.id)).first()
    at = now - timedelta(days=35)
    made = []
    for code, name, kind, unit, amount, note in DEMO_FUNDS:
        fund = funds.create_fund(actor=manager, now=at, code=code, name=name, kind=kind, owner_unit=units[unit])
        funds.add_income(fund, actor=manager, now=at, kind="allocation", amount_yuan=amount, note=note)
        made.append(fund)
    funds.add_income(
        made[0], actor=manager, now=at + timedelta(days=3), kind="donation", amount_yuan="8800", note="爱心企业捐赠"
    )
    return made


def load_demo_reliefs(tickets: list[Ticket], *, units: dict[str, Department], now: datetime) -> int:
    """Relief on the first open P1 demo cases, one stage each; returns how many cases got one. The caller commits."""
    load_demo_funds(units=units, now=now)
    cases = [t for t in tickets if t.priority == "P1" and t.is_open and t.first_contact_owner_id]
    plans = (_staged, _pending, _paperwork_done, _not_needed, _several_funds)
    for ticket, plan in zip(cases, plans, strict=False):
        plan(ticket, db.session.get(User, ticket.first_contact_owner_id), units, now)
    return min(len(cases), len(plans))
