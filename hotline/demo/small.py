"""Demo data: one county, its units, users for every role, 50 tickets over the last 30 days.

Everything goes through the same service functions the UI uses, with explicit
``now`` values in the past, so the demo history is one the system could have
written itself.
"""

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from hotline.admin.service import create_user, save_department
from hotline.demo.relief import load_demo_reliefs
from hotline.demo.visits import load_demo_visits
from hotline.extensions import db
from hotline.intake.duty import save_duty_line
from hotline.referrals import service as referrals
from hotline.tickets import service
from hotline.triage import triage_text
from models.department import Department

DEMO_PASSWORD = "hotline-demo"

#: (code, name, kind, level, parent code, duty phone)
DEPARTMENTS = [
    ("hotline", "县救助热线中心", "hotline", "county", None, "+8613900000000"),
    ("civil_affairs", "县民政局", "bureau", "county", None, "+8613900000001"),
    ("medical_insurance", "县医疗保障局", "bureau", "county", None, "+8613900000002"),
    ("education", "县教育局", "bureau", "county", None, "+8613900000003"),
    ("housing", "县住房和城乡建设局", "bureau", "county", None, "+8613900000004"),
    ("hrss", "县人力资源和社会保障局", "bureau", "county", None, "+8613900000005"),
    ("emergency", "县应急管理局", "bureau", "county", None, "+8613900000006"),
    ("disabled_persons", "县残疾人联合会", "bureau", "county", None, "+8613900000007"),
    ("child_protection", "县未成年人保护工作站", "bureau", "county", None, "+8613900000008"),
    ("rescue_station", "县救助管理站", "bureau", "county", None, "+8613900000009"),
    ("health", "县卫生健康局", "bureau", "county", None, "+8613900000010"),
    ("charity", "县慈善总会（救急难基金）", "charity", "county", None, "+8613900000011"),
    ("town_chengguan", "城关镇", "township", "township", None, "+8613900000101"),
    ("town_hekou", "河口乡", "township", "township", None, "+8613900000102"),
    ("town_shiqiao", "石桥镇", "township", "township", None, "+8613900000103"),
    ("village_dongguan", "东关社区", "community", "village", "town_chengguan", "+8613900000201"),
    ("village_xijie", "西街村", "village", "village", "town_chengguan", "+8613900000202"),
    ("village_hekou", "河口村", "village", "village", "town_hekou", "+8613900000203"),
    ("village_liushu", "柳树村", "village", "village", "town_hekou", "+8613900000204"),
    ("village_shiqiao", "石桥村", "village", "village", "town_shiqiao", "+8613900000205"),
    ("village_taoyuan", "桃园村", "village", "village", "town_shiqiao", "+8613900000206"),
    ("grid_dongguan_1", "东关社区第一网格", "grid", "grid", "village_dongguan", None),
]

#: (username, display name, role, department code)
USERS = [
    ("operator1", "张晓红", "operator", None),
    ("operator2", "李建国", "operator", None),
    ("operator3", "王芳", "operator", None),
    ("manager1", "陈主任", "manager", None),
    ("admin", "系统管理员", "admin", None),
    ("civil1", "刘经办（民政局）", "department", "civil_affairs"),
    ("medins1", "赵经办（医保局）", "department", "medical_insurance"),
    ("town1", "孙经办（城关镇）", "department", "town_chengguan"),
    ("village1", "周协理员（东关社区）", "department", "village_dongguan"),
    ("grid1", "吴网格员（东关社区第一网格）", "department", "grid_dongguan_1"),
]

CASES = [
    ("illness_hardship", "P1", "父亲突发脑溢血住院，家里拿不出押金", "医院要求先交两万元押金，家里只有三千元。"),
    ("accident_disaster", "P1", "昨晚房屋失火，一家四口无处居住", "火灾烧毁了两间房，孩子的课本衣物都没了。"),
    ("stranded_person", "P1", "在火车站钱包被偷，无法返乡", "外地务工人员，身上没有钱买车票。"),
    ("elderly_alone", "P2", "邻居独居老人多日未出门", "老人八十多岁，电话一直打不通。"),
    ("subsistence", "P2", "询问低保申请进度", "上个月提交了低保申请，至今没有消息。"),
    ("medical_aid", "P2", "大病医疗救助报销问题", "住院费用报销后自付部分仍然很高。"),
    ("policy_enquiry", "P3", "临时救助需要哪些材料", "想了解临时救助的申请条件和材料。"),
    ("education_aid", "P3", "孩子上大学的资助政策", "家庭困难，孩子考上大学想申请资助。"),
    ("employment_wages", "P2", "工地拖欠三个月工资", "一起干活的十几个人都没拿到工资。"),
    ("child_protection", "P1", "发现留守儿童无人照看", "孩子父母外出务工，爷爷住院，孩子独自在家。"),
    ("housing", "P2", "房屋墙体开裂成危房", "雨季快到了，担心房子倒塌。"),
    ("disability_support", "P2", "残疾人护理补贴咨询", "儿子重度残疾，想了解护理补贴。"),
]

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙"]
GIVEN_NAMES = ["秀英", "桂兰", "伟", "洋", "静", "军", "丽", "磊", "敏", "强", "娟", "涛", "建国", "淑芬", "志强"]


def _caller_name(i: int) -> str:
    """A different name for every demo caller: one name with several phones would read as one person."""
    return SURNAMES[i % len(SURNAMES)] + GIVEN_NAMES[(i + i // len(SURNAMES)) % len(GIVEN_NAMES)]


def demo_exists() -> bool:
    return bool(db.session.scalar(select(func.count(Department.id))))


def load_demo(*, now: datetime, tickets: int = 50, seed: int = 7) -> dict:
    """Write the demo county. Returns counts; the caller commits."""
    rng = random.Random(seed)
    units: dict[str, Department] = {}
    for code, name, kind, level, parent, phone in DEPARTMENTS:
        units[code] = save_department(
            None,
            actor=None,
            now=now,
            code=code,
            name=name,
            kind=kind,
            level=level,
            parent=units.get(parent) if parent else None,
            duty_phone=phone,
        )
    users = {}
    for username, display, role, dept in USERS:
        users[username] = create_user(
            actor=None,
            now=now,
            username=username,
            display_name=display,
            role=role,
            password=DEMO_PASSWORD,
            department=units.get(dept) if dept else None,
        )
    operators = [users["operator1"], users["operator2"], users["operator3"]]
    # Tonight's duty roster: a simulated call rings these lines (`simulate call --answer` reaches operator1).
    for position, username in enumerate(("operator1", "operator2")):
        save_duty_line(
            None,
            actor=users["admin"],
            now=now,
            user=users[username],
            label=None,
            phone=f"+86137000001{position + 1:02d}",
            client_identity=None,
            position=position,
            on_duty=True,
        )
    villages = [u for u in units.values() if u.level == "village"]
    # Every state: new, open, referred (waiting, in progress, return asked, passed on to a village),
    # pending callback, closed (reached / not), reopened, merged.
    states = [
        "new",
        "open",
        "answered",
        "referred",
        "closed",
        "in_progress",
        "closed_unreached",
        "return_requested",
        "reopened",
        "merged",
        "referral_done",
        "passed_on",
    ]
    # Units with a demo login, so every referral state can be reached through the services.
    referral_units = [
        (units["civil_affairs"], users["civil1"]),
        (units["medical_insurance"], users["medins1"]),
        (units["town_chengguan"], users["town1"]),
    ]
    created = []
    for i in range(tickets):
        category, priority, summary, description = CASES[i % len(CASES)]
        state = states[i % len(states)]
        at = now - timedelta(days=30 * (tickets - i) / tickets, minutes=rng.randint(0, 600))
        phone = f"+86138{rng.randint(0, 99_999_999):08d}" if i % 9 else f"+86138{i:08d}"
        if state == "new":
            triage = triage_text(description)  # as the SMS webhook does: the text's triage is its priority
            t = service.open_unclaimed_ticket(
                now=at,
                channel="sms",
                phone=phone,
                summary=summary,
                body=description,
                category=triage.category,
                priority=triage.priority,
                triage_reasons=triage.reasons,
                triage_kind=triage.kind,
            )
            created.append(t)
            continue
        # operator1's own queue stays short so a newly logged call is easy to spot.
        owner = operators[1 + i % 2] if i % 5 else operators[0]
        name, duplicate_of = _caller_name(i), None
        if state == "merged":
            # A duplicate (并单): the same caller again about the same matter, on a ticket still open.
            duplicate_of = next((c for c in reversed(created) if c.is_open and c.contact and c.contact.name), None)
            if duplicate_of is not None:
                phone, name = duplicate_of.contact.phone, duplicate_of.contact.name
                category, priority = duplicate_of.category, duplicate_of.priority
                summary, description = duplicate_of.summary, duplicate_of.description
        t = service.log_call(
            actor=owner,
            now=at,
            phone=phone,
            caller_name=name,
            category=category,
            priority=priority,
            summary=summary,
            description=description,
            sensitive=category == "child_protection",
            channel="walk_in" if i % 11 == 0 else "voice",
        )
        contact = t.contact
        if duplicate_of is None:  # a duplicate's caller keeps where they live
            village = villages[i % len(villages)]
            contact.township_id = village.parent_id
            contact.village_id = village.id
        contact.is_elderly = category == "elderly_alone"
        contact.is_child = category == "child_protection"
        db.session.flush()
        later = at + timedelta(hours=rng.randint(1, 30))
        service.add_note(t, actor=owner, now=at + timedelta(minutes=5), text="已安抚来电人情绪，记录基本情况。")
        if state == "open":
            created.append(t)
            continue
        if state in ("referred", "in_progress", "return_requested", "referral_done", "passed_on"):
            _demo_referral(t, state, owner, referral_units[i % len(referral_units)], users, units, at)
            created.append(t)
            continue
        if state == "merged":
            if duplicate_of is not None:
                service.merge_ticket(
                    t, actor=owner, now=later, target=duplicate_of, reason="同一来电人重复反映同一事项"
                )
            created.append(t)
            continue
        service.resolve_directly(t, actor=owner, now=later, answer="已告知办理流程和所需材料，并联系村（社区）协助。")
        if state == "answered":
            created.append(t)
            continue
        callback_at = later + timedelta(hours=rng.randint(12, 40))
        if state == "closed_unreached":
            service.record_callback(t, actor=owner, now=callback_at, reached=False, comment="电话无人接听")
        else:
            service.record_callback(
                t,
                actor=owner,
                now=callback_at,
                reached=True,
                satisfaction=rng.choice([3, 4, 5, 5, 5]),
                comment="来电人表示问题已解决",
            )
        service.close_ticket(t, actor=owner, now=callback_at + timedelta(minutes=10))
        if state == "reopened":
            service.reopen_ticket(
                t, actor=owner, now=callback_at + timedelta(days=1), reason="来电人再次来电，救助款仍未到位"
            )
        created.append(t)
    load_demo_reliefs(created, units=units, now=now)  # 先行救助 at each stage on a few P1 cases
    if tickets:  # the bulk demo loads the county alone (tickets=0), then its own history
        load_demo_visits(units=units, users=users, now=now)  # households with visit plans, a grid worker's report
    db.session.flush()
    return {"departments": len(units), "users": len(users), "tickets": len(created)}


def _demo_referral(ticket, state, owner, unit_and_staff, users, units, at) -> None:
    """Take ``ticket`` through the referral life as far as ``state``."""
    unit, staff = unit_and_staff
    if state == "passed_on":
        unit, staff = units["town_chengguan"], users["town1"]
    step = timedelta(minutes=25)
    referral = referrals.dispatch_referral(
        ticket, department=unit, role="lead", actor=owner, now=at + step, instructions="请核实情况并尽快联系当事人。"
    )
    db.session.flush()
    if state == "referred":
        return
    if state == "return_requested":
        referrals.request_return(
            referral, actor=staff, now=at + 2 * step, reason="not_our_remit", comment="该事项不属于本单位职责。"
        )
        return
    referrals.acknowledge(referral, actor=staff, now=at + 2 * step)
    if state == "passed_on":
        referrals.pass_on(
            referral,
            actor=staff,
            now=at + 3 * step,
            department=units["village_dongguan"],
            instructions="请网格员入户走访。",
        )
        return
    referrals.add_progress(referral, actor=staff, now=at + 3 * step, text="已电话联系当事人，正在核实家庭经济状况。")
    if state == "in_progress":
        return
    referrals.resolve(
        referral,
        actor=staff,
        now=at + 6 * step,
        result="已发放临时救助2000元，并纳入低收入人口动态监测。",
        outcome="relief_granted",
    )
