"""Demo advance relief: a few P1 cases at each stage, written through the relief services.

Granted within the limit, paid in two stages and followed by a home visit (paperwork still due), above
the limit and waiting for the manager (一事一议), granted with paperwork
completed, and recorded as not needed.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from hotline.extensions import db
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


def load_demo_reliefs(tickets: list[Ticket], *, units: dict[str, Department], now: datetime) -> int:
    """Relief on the first open P1 demo cases, one stage each; returns how many cases got one. The caller commits."""
    cases = [t for t in tickets if t.priority == "P1" and t.is_open and t.first_contact_owner_id]
    plans = (_staged, _pending, _paperwork_done, _not_needed)
    for ticket, plan in zip(cases, plans, strict=False):
        plan(ticket, db.session.get(User, ticket.first_contact_owner_id), units, now)
    return min(len(cases), len(plans))
