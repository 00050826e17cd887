"""Demo households with visit plans (探访), a grid worker of 东关社区, and their visits and reports.

Written through the services (``plan_household``, ``record_visit``, ``visit_ticket``, ``report_case``) with
explicit past instants, so ``make run`` shows due and overdue visits (one late enough to be urged), a visit
that became a ticket, and a grid worker's report on 我的报告.
"""

from datetime import datetime, timedelta

from hotline.extensions import db
from hotline.grid import visits
from hotline.grid.reports import report_case
from models.contact import Contact
from models.department import Department
from models.user import User

#: (name, ID number (valid check digit), phone, village code, address, flags, days since the plan began,
#: days ago it was last visited or None)
HOUSEHOLDS = [
    (
        "郑秀珍",
        "610102194503150028",
        None,
        "village_dongguan",
        "东关社区三组12号",
        ("is_elderly", "lives_alone", "social_assistance"),
        75,
        40,
    ),
    (
        "何桂芳",
        "610102195207080023",
        "+8613700001001",
        "village_dongguan",
        "东关社区五组3号",
        ("is_elderly", "social_assistance"),
        125,
        None,
    ),
    (
        "罗志明",
        "610102198011230011",
        "+8613700001002",
        "village_dongguan",
        "东关社区一组8号",
        ("has_disability", "social_assistance"),
        50,
        20,
    ),
    (
        "马淑华",
        "610102196609020044",
        "+8613700001003",
        "village_dongguan",
        "东关社区二组21号",
        ("left_behind_children",),
        45,
        None,
    ),
    ("胡德顺", "610102195812260030", None, "village_xijie", "西街村四组6号", ("is_elderly", "lives_alone"), 20, None),
    (
        "林小红",
        "610102197704180024",
        "+8613700001004",
        "village_hekou",
        "河口村一组15号",
        ("social_assistance",),
        30,
        None,
    ),
]


def load_demo_visits(*, units: dict[str, Department], users: dict[str, User], now: datetime) -> dict:
    """The demo households, their plans and a little history; the caller commits."""
    plans = {}
    for name, id_number, phone, village, address, flags, began, visited in HOUSEHOLDS:
        unit = units[village]
        contact = Contact(
            name=name,
            id_number=id_number,
            phone=phone,
            address=address,
            township_id=unit.parent_id,
            village_id=unit.id,
            created_at=now - timedelta(days=began),
            **dict.fromkeys(flags, True),
        )
        db.session.add(contact)
        db.session.flush()
        plan = visits.plan_household(contact, now=now - timedelta(days=began))
        if visited is not None:
            visits.record_visit(
                plan,
                visitor=users["grid1"],
                now=now - timedelta(days=visited, hours=3),
                seen=True,
                condition="身体尚可，独自生活，家中整洁。",
                needs=None,
            )
        plans[name] = plan
    # A visit today that found difficulty, made a ticket in one tap.
    found = visits.record_visit(
        plans["罗志明"],
        visitor=users["grid1"],
        now=now - timedelta(hours=2),
        seen=True,
        condition="轮椅坏了，已两周无法出门，药快吃完了。",
        needs="维修轮椅，代购降压药",
        difficulty=True,
    )
    visits.visit_ticket(found, actor=users["grid1"], now=now - timedelta(hours=2) + timedelta(minutes=1))
    # A grid worker's report from the phone page.
    report_case(
        reporter=users["grid1"],
        now=now - timedelta(hours=5),
        text="桥头有一位外地老人，走失迷路，说不清住址，天冷衣服单薄",
        urgency="urgent",
        name="不知姓名老人",
        village_id=units["village_dongguan"].id,
        address="东关社区桥头公交站",
    )
    db.session.flush()
    return {"households": len(HOUSEHOLDS)}
