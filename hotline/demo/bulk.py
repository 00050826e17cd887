"""``flask hotline demo --tickets N`` for large N: two years of realistic history, written in bulk.

The small demo (:mod:`hotline.demo.small`) walks every ticket through the service
functions; at a million tickets that would take hours. This loader draws the
story of each case (:class:`Generator`: which steps, when) and writes its rows
with the case writer of :mod:`hotline.demo.bulk_case`, whose steps set the
columns and events their service functions would, and write the escalation
steps the sweep would have -- tickets with their clock deadlines, referrals,
ticket events, escalation steps, calls and messages, advance relief -- in
chunks (:mod:`hotline.demo.bulk_rows`): raw ``executemany`` on SQLite, ``COPY``
on PostgreSQL.

The rules are taken, not copied:

- deadlines, each clock's mode (working time or wall-clock) and the escalation
  ladder come from ``config/policy/sla.toml`` through :mod:`hotline.escalation.sla`
  and the working calendar (``chinese-calendar`` + ``calendar.toml``), over a
  precomputed index of the office periods (:mod:`hotline.demo.bulk_clocks`),
  checked at start against the reference arithmetic on a sample;
- the columns written and the defaults of those the generator does not name come
  from the models' ``Table`` objects; urgent priorities, emergency services and
  levels from the models; ticket numbers from ``hotline.tickets.service.ticket_number``;
  the local day from the zone of :mod:`hotline.timeutil`;
- delays are drawn in the time the clock they count against runs in, so a P2
  case reported on a Friday evening or before the National Day holiday waits
  like a real one;
- every step of a case happens only if its time is before ``now``: recent
  tickets are still open, in every state, and their running clocks set
  ``next_deadline_at`` (the desk's order) and ``next_escalation_at`` (the sweep).

``tests/test_demo_bulk.py`` runs cases through the case writer and the services
side by side and compares the rows.

Timestamps are whole seconds, held as integers (epoch) while generating.
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from hotline.demo.bulk_case import Case, CaseWriter, Ids, iso
from hotline.demo.bulk_clocks import DAY, LOCAL_OFFSET, Clocks, WorkingIndex, local_day
from hotline.demo.bulk_rows import ID_TABLES, MODELS, Writer
from hotline.escalation import sla
from hotline.extensions import db
from hotline.intake import intake
from hotline.policy import catalogue
from hotline.relief.rules import relief_rules
from hotline.relief.service import limit_fen
from hotline.tickets.service import ticket_number
from hotline.timeutil import to_local
from models.department import Department
from models.ticket import EMERGENCY_SERVICES, PRIORITIES, URGENT_PRIORITIES
from models.user import User

#: Above this many tickets ``flask hotline demo`` takes the bulk path.
BULK_THRESHOLD = 5000
#: Tickets generated and written per chunk (their referrals, events... go with them).
CHUNK = 10_000
MORE_OPERATORS = 21


# --- the county's people -----------------------------------------------------------------------


@dataclass
class County:
    units: dict[str, Department]
    operators: list[int]
    manager: int
    staff: dict[int, int]  # unit id -> a staff user id
    townships: list[Department]
    villages: dict[int, list[Department]]


def _county(now: datetime, echo) -> County:
    from hotline.demo.small import demo_exists, load_demo

    if not demo_exists():
        load_demo(now=now, tickets=0)
        db.session.flush()
    units = {d.code: d for d in db.session.scalars(select(Department))}
    users = {u.username: u for u in db.session.scalars(select(User))}
    # A county line has a few dozen operators over two years; one hash for all of them (demo password).
    from hotline.demo.small import DEMO_PASSWORD

    password = generate_password_hash(DEMO_PASSWORD, method="scrypt")
    for n in range(4, 4 + MORE_OPERATORS):
        name = f"operator{n}"
        if name not in users:
            users[name] = User(
                username=name,
                display_name=f"接线员{n}",
                role="operator",
                password_hash=password,
                active=True,
                failed_logins=0,
                session_token="",
                created_at=now,
            )
            db.session.add(users[name])
    staff_by_unit = {u.department_id: u for u in users.values() if u.role == "department"}
    for unit in units.values():
        if unit.kind != "hotline" and unit.id not in staff_by_unit:
            user = User(
                username=f"staff_{unit.code}",
                display_name=f"{unit.name}经办人",
                role="department",
                department_id=unit.id,
                password_hash=password,
                active=True,
                failed_logins=0,
                session_token="",
                created_at=now,
            )
            db.session.add(user)
            staff_by_unit[unit.id] = user
    db.session.flush()
    operators = sorted(u.id for u in users.values() if u.role == "operator")
    townships = sorted((u for u in units.values() if u.kind == "township"), key=lambda d: d.code)
    villages: dict[int, list[Department]] = {}
    for unit in units.values():
        if unit.level == "village" and unit.parent_id:
            villages.setdefault(unit.parent_id, []).append(unit)
    echo(f"county: {len(units)} units, {len(operators)} operators, {len(staff_by_unit)} unit staff")
    return County(
        units=units,
        operators=operators,
        manager=users["manager1"].id,
        staff={unit: user.id for unit, user in staff_by_unit.items()},
        townships=townships,
        villages=villages,
    )


CHANNEL_WEIGHTS = (("voice", 70), ("sms", 9), ("walk_in", 5), ("proactive", 9), ("api", 4), ("web", 3))
PRIORITY_BY_CATEGORY_SHIFT = 0.12  # how often the operator's priority differs from the catalogue's default
SUMMARIES = {
    "illness_hardship": "家人突发重病住院，拿不出押金",
    "accident_disaster": "房屋失火，一家人无处居住",
    "family_without_support": "家中顶梁柱去世，老人孩子无人照料",
    "stranded_person": "外地务工人员钱物被盗，无法返乡",
    "child_protection": "发现留守儿童无人照看",
    "elderly_alone": "独居老人多日未出门",
    "disability_support": "残疾人护理补贴咨询",
    "subsistence": "询问低保申请进度",
    "medical_aid": "大病医疗救助报销问题",
    "housing": "房屋墙体开裂成危房",
    "employment_wages": "工地拖欠工资",
    "education_aid": "孩子上学资助政策咨询",
    "policy_enquiry": "临时救助需要哪些材料",
    "other": "其他求助",
}


ANSWER = "已告知办理流程和所需材料，并联系村（社区）协助。"
PROGRESS = "已联系当事人，正在核实情况。"
RETURN_REASONS = ("not_our_remit", "wrong_township", "insufficient_information")
RESULT = "已办结，已反馈来电人。"
MERGE_REASON = "同一来电人重复反映同一事项"
#: Median acknowledge delay (seconds) by priority: minutes for 救急难, hours for the rest.
ACK_MEDIAN = {"P0": 20 * 60, "P1": 20 * 60, "P2": 5400, "P3": 3 * 3600}


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(int(median * math.exp(rng.gauss(0, sigma))), 1)


class Generator(CaseWriter):
    """Draws the story of one case after another and writes it; every step happens only if it is before ``now``."""

    def __init__(self, writer: Writer, county: County, clocks: Clocks, ids: Ids, now: int, rng: random.Random):
        super().__init__(writer, clocks, ids, now)
        self.county = county
        self.rng = rng
        self.categories = [c for c in catalogue().categories if c.code in SUMMARIES]
        self.channels = [c for c, _w in CHANNEL_WEIGHTS]
        self.channel_weights = [w for _c, w in CHANNEL_WEIGHTS]
        #: (contact id, phone, is a child) of every caller so far.
        self.callers: list[tuple[int, str, bool]] = []
        self.township_of: dict[int, int] = {}
        #: contact id -> (ticket id, number, closed at) of the caller's latest ticket: a duplicate merges into it.
        self.latest: dict[int, tuple[int, str, int | None]] = {}
        self.bureaus = sorted((u for u in county.units.values() if u.kind == "bureau"), key=lambda u: u.code)
        self.unit_names = {u.id: u.name for u in county.units.values()}
        #: What a missed call's ticket is filed under (open_unclaimed_ticket's default).
        self.other = catalogue().get("other")
        #: intake.toml: the voice menu's lines and the call-back times promised to callers.
        self.intake = intake().policy
        #: 小额先行救助: what a case may receive without a manager's approval (the relief events record it).
        self.limit = limit_fen()
        #: 补齐手续: the papers each kind of relief needs (relief_rules.toml).
        self.checklist = relief_rules().checklist

    def later(self, priority: str, clock: str, start: int, median: float, sigma: float) -> int:
        """A delay drawn around ``median`` seconds, counted the way ``clock`` of ``priority`` counts."""
        return self.clocks.later(priority, clock, start, _lognormal(self.rng, median, sigma))

    def caller(self, at: int) -> tuple[int, str, bool]:
        rng = self.rng
        if self.callers and rng.random() < 0.18:  # an earlier caller calls again, about something new or not
            return self.callers[rng.randrange(len(self.callers))]
        cid = self.ids.next("contact")
        phone = f"+8613{(cid * 7919) % 1_000_000_000:09d}"
        township = self.county.townships[rng.randrange(len(self.county.townships))]
        villages = self.county.villages.get(township.id, [])
        village = villages[rng.randrange(len(villages))].id if villages else None
        elderly, child, disabled, alone = (rng.random() < p for p in (0.12, 0.05, 0.04, 0.06))
        self.w.add(
            "contact",
            {
                "id": cid,
                "phone": phone,
                "township_id": township.id,
                "village_id": village,
                "is_elderly": elderly,
                "is_child": child,
                "has_disability": disabled,
                "lives_alone": alone,
                "created_at": at,
            },
        )
        self.township_of[cid] = township.id
        self.callers.append((cid, phone, child))
        return cid, phone, child

    def _satisfaction(self) -> int:
        return self.rng.choices((1, 2, 3, 4, 5), (2, 3, 8, 30, 57))[0]

    # --- the case --------------------------------------------------------------------------

    def case(self, created: int, number: str) -> None:
        rng = self.rng
        category = self.categories[rng.randrange(len(self.categories))]
        priority = category.priority
        if rng.random() < PRIORITY_BY_CATEGORY_SHIFT:
            priority = rng.choice(PRIORITIES[1:])
        if priority == "P1" and rng.random() < 0.05:
            priority = "P0"  # danger to life: handed over to 110/119/120 during the call
        channel = rng.choices(self.channels, self.channel_weights)[0]
        cid, phone, is_child = self.caller(created)
        owner = self.county.operators[rng.randrange(len(self.county.operators))]
        missed = channel == "voice" and rng.random() < 0.05
        unclaimed = missed or channel in ("sms", "proactive", "api", "web")
        on_call = (
            not unclaimed
            and channel in ("voice", "walk_in")
            and priority not in URGENT_PRIORITIES
            and rng.random() < 0.3
        )
        summary, line, contact_by = SUMMARIES[category.code], None, None
        if missed:  # mark_missed: the line's priority and summary, a call-back promised in the line's time
            line = self._line(priority)
            priority, category, summary = line.priority, self.other, line.missed_summary
        if missed or channel == "sms":  # the SMS webhook promises contact in the callback time of the priority
            contact_by = created + self.intake.minutes_to_callback(priority) * 60
        c = self.open(
            number=number,
            channel=channel,
            contact_id=cid,
            contact_is_child=is_child,
            category=category.code,
            priority=priority,
            summary=summary,
            created=created,
            owner=None if unclaimed else owner,
            confidential=rng.random() < 0.03,
            sensitive=category.code == "child_protection",
            emergency_service=rng.choice(EMERGENCY_SERVICES) if priority == "P0" and not unclaimed else None,
            answer=ANSWER if on_call else None,
            contact_by=contact_by,
        )
        self._intake(c, channel, line, phone, owner)
        target = self.latest.get(cid)
        if target and not unclaimed and rng.random() < 0.3 and (target[2] is None or target[2] > created + 600):
            if created + 600 <= self.now:
                self.merge(c, owner, created + 600, target[0], target[1], MERGE_REASON)
        elif on_call:
            self._callback_and_close(c, owner, created)
        else:
            start = self._take_and_call(c, owner) if unclaimed else created
            if start is not None:
                self._work(c, owner, start)
        self.finish(c)
        v = c.values
        if v["status"] != "merged":
            self.latest[cid] = (v["id"], v["number"], v["closed_at"])

    def _line(self, priority: str):
        """The voice menu's line (intake.toml) a caller of ``priority`` would have chosen: urgent or not."""
        urgent = priority in URGENT_PRIORITIES
        lines = self.intake.lines
        return next((line for line in lines if (line.priority in URGENT_PRIORITIES) == urgent), lines[0])

    def _intake(self, c: Case, channel: str, missed, phone: str, owner: int) -> None:
        """The call or message the ticket came from (the desk's call panel, the SMS webhook).

        ``missed``: the line of a call nobody answered, else None.
        """
        rng, v = self.rng, c.values
        iid = self.ids.next("interaction")
        created = v["created_at"]
        line = missed or self._line(v["priority"])
        row = {
            "id": iid,
            "channel": channel,
            "direction": "inbound",
            "from_number": phone,
            "contact_id": v["contact_id"],
            "ticket_id": v["id"],
        }
        if channel == "voice":
            ring = 20 if missed else _lognormal(rng, 7, 0.6)
            started = created - ring
            row.update(
                provider_sid=f"CA{iid:032x}", to_number="+8610012345", status="no-answer" if missed else "completed"
            )
            row.update(started_at=started, answered_at=None if missed else created)
            row.update(ended_at=started + (25 if missed else 240 + rng.randrange(600)))
            row.update(menu_choice=line.code, missed_at=created if missed else None)
            row["handled_by_id"] = None if missed else owner
            self.w.add("interaction", row)
            if missed:
                minutes = self.intake.minutes_to_callback(line.priority)
                self.event(
                    v["id"],
                    "missed_call",
                    created,
                    line=line.code,
                    minutes=minutes,
                    callback_by=iso(created + minutes * 60),
                )
            return
        answered = created if channel == "walk_in" else None
        row.update(provider_sid=f"SM{iid:032x}" if channel == "sms" else None, started_at=created)
        row.update(status="received" if channel == "sms" else "completed", answered_at=answered)
        row.update(body=v["summary"] if channel == "sms" else None, handled_by_id=owner if answered else None)
        self.w.add("interaction", row)

    def _take_and_call(self, c: Case, owner: int) -> int | None:
        """An unclaimed ticket is taken and the person called back (first contact). None: not yet, as of now."""
        v = c.values
        urgent = v["priority"] in URGENT_PRIORITIES
        taken = v["created_at"] + _lognormal(self.rng, 6 * 60 if urgent else 40 * 60, 0.9)
        if taken > self.now:
            return None
        self.take(c, owner, taken)
        called = taken + _lognormal(self.rng, 5 * 60, 0.8)
        while True:
            if called > self.now:
                return None
            reached = self.rng.random() < 0.85
            self.callback(c, owner, called, reached=reached, satisfaction=self._satisfaction() if reached else None)
            if reached:
                return called
            called += _lognormal(self.rng, 3600, 0.7)

    def _resolve_directly(self, c: Case, owner: int, at: int) -> None:
        self.resolve_directly(c, owner, at, ANSWER)
        self._callback_and_close(c, owner, at)

    def _work(self, c: Case, owner: int, start: int) -> None:
        """Advance relief for P0/P1; refer (most cases) or answer; then callback and close."""
        v = c.values
        priority = v["priority"]
        urgent = priority in URGENT_PRIORITIES
        if urgent:
            self._relief(c, owner)
        elif self.rng.random() < 0.12:
            at = self.later(priority, "dispatch", start, 1800, 0.8)
            if at <= self.now:
                self._resolve_directly(c, owner, at)
            return
        dispatched = self.later(priority, "dispatch", start, 12 * 60 if urgent else 3600, 0.8)
        if dispatched > self.now:
            return
        if self.rng.random() < 0.06:
            repeat = start + _lognormal(self.rng, 20 * 3600, 1.0)
            if repeat <= self.now:
                self.event(v["id"], "repeat_call", repeat, owner, note=None, channel="voice")
                self.touch(c, repeat)
        finished = [self._referral(c, owner, unit, role, dispatched) for role, unit in self._units_for(v)]
        if any(f is None for f in finished):
            return
        done, staff = max(finished)
        self.roll_up(c, staff, done)
        self._callback_and_close(c, owner, done)

    def _units_for(self, v: dict) -> list[tuple[str, Department]]:
        category = next(c for c in self.categories if c.code == v["category"])
        lead = self.county.units.get(category.lead) if category.lead and category.lead != "township" else None
        if lead is None:
            lead = next(u for u in self.county.townships if u.id == self.township_of[v["contact_id"]])
        units = [("lead", lead)]
        if self.rng.random() < 0.12:
            assist = self.bureaus[self.rng.randrange(len(self.bureaus))]
            if assist.id != lead.id:
                units.append(("assist", assist))
        return units

    def _referral(
        self, c: Case, owner: int, unit: Department, role: str, dispatched: int, instructions=None, redispatch=False
    ):
        """One referral's life; returns (when, by whom) it or its redispatch was resolved, None if not yet."""
        rng, v = self.rng, c.values
        priority = v["priority"]
        staff = self.county.staff.get(unit.id)
        r = self.dispatch(c, owner, unit.id, unit.name, role, dispatched, instructions)
        returns = not redispatch and rng.random() < 0.05  # a redispatched referral is not returned again
        ack_median = ACK_MEDIAN[priority]
        if returns and rng.random() < 0.4:  # asked to return before acknowledging
            return self._return(
                c, owner, unit, role, r, self.later(priority, "acknowledge", dispatched, ack_median, 0.7)
            )
        ack = self.later(priority, "acknowledge", dispatched, ack_median, 0.9)
        if ack > self.now:
            return None
        self.acknowledge(c, r, staff, ack)
        urgent = priority in URGENT_PRIORITIES
        progress = self.later(priority, "resolve", ack, 1800 if urgent else 3 * 3600, 0.8)
        if progress > self.now:
            return None
        self.progress(c, r, staff, progress, PROGRESS, contacted=v["first_contact_at"] is None)
        if returns:
            return self._return(c, owner, unit, role, r, self.later(priority, "resolve", progress, 3600, 0.7))
        return self._resolve(c, unit, r, progress)

    def _resolve(self, c: Case, unit: Department, r: dict, progress: int) -> tuple[int, int] | None:
        rng, clocks, v = self.rng, self.clocks, c.values
        priority, staff = v["priority"], self.county.staff.get(unit.id)
        dispatched, due = r["dispatched_at"], r["resolve_due_at"]
        resolved = self.later(
            priority, "resolve", dispatched, clocks.length(priority, "resolve", dispatched, due) * 0.45, 0.75
        )
        most = clocks.policy.max_extension.get(priority)
        if most is not None and rng.random() < 0.05:  # 延期: asked once, before the deadline; a manager decides
            asked = clocks.later(priority, "resolve", progress, 3600)
            if asked < due and asked <= self.now:
                until = min(
                    clocks.later(priority, "resolve", due, 5 * clocks.index.day_length), clocks.deadline_of(most, due)
                )
                self.request_extension(c, r, staff, asked, "需入户核实", until)
                decided = asked + _lognormal(rng, 4 * 3600, 0.6)
                if decided <= self.now:
                    approve = rng.random() < 0.8
                    self.decide_extension(c, r, self.county.manager, decided, approve=approve)
                    if approve:
                        resolved = max(resolved, self.later(priority, "resolve", decided, 3600, 0.5))
        if resolved <= progress:
            resolved = progress + 600
        if resolved > self.now:
            return None
        outcome = rng.choice(("relief_granted", "relief_granted", "referred_on", "not_eligible", "other"))
        self.resolve(c, r, staff, resolved, RESULT, outcome)
        return resolved, staff

    def _return(self, c: Case, owner: int, unit: Department, role: str, r: dict, asked: int):
        """退单: asked, then decided; accepted ones go to another unit, rejected ones back to work."""
        rng = self.rng
        staff = self.county.staff.get(unit.id)
        if asked > self.now:
            return None
        self.request_return(c, r, staff, asked, rng.choice(RETURN_REASONS), "不属于本单位职责。")
        decided = asked + _lognormal(rng, 3 * 3600, 0.8)
        if decided > self.now:
            return None
        if rng.random() < 0.25 and r["status_before_return"] != "dispatched":
            self.decide_return(c, r, owner, decided, accept=False, comment="请先核实情况。")
            return self._resolve(c, unit, r, decided)
        self.decide_return(c, r, owner, decided, accept=True, comment="改派")
        others = [u for u in self.bureaus if u.id != unit.id]
        other = others[rng.randrange(len(others))]
        return self._referral(c, owner, other, role, decided, instructions=r["instructions"], redispatch=True)

    def _relief(self, c: Case, owner: int) -> None:
        """先行救助 for P0/P1: granted (most), ruled out, or not decided yet; paperwork after a grant."""
        rng, v = self.rng, c.values
        roll = rng.random()
        if roll < 0.6:
            at = v["created_at"] + _lognormal(rng, 5 * 3600, 0.9)
            if at > self.now:
                return
            fen = min(rng.choice((1000, 2000, 2000, 3000, 3000)) * 100, self.limit)  # within: no approval
            unit = self.township_of[v["contact_id"]]
            relief = self.grant_relief(
                c,
                owner,
                at,
                kind="temporary_assistance",
                fen=fen,
                unit_id=unit,
                unit_name=self.unit_names[unit],
                reason="急难先行救助",
                limit=self.limit,
            )
            if at + 3600 <= self.now:
                self.record_payment(c, relief, owner, at + 3600, fen, "一次性发放")
            done = at + _lognormal(rng, 3 * DAY, 0.5)
            if v["paperwork_due_at"] is not None and rng.random() < 0.97 and done <= self.now:
                papers = list(self.checklist["temporary_assistance"])  # no files in bulk: a manager records it
                self.complete_paperwork(c, self.county.manager, done, "材料已线下核验", papers)
        elif roll < 0.9:
            at = v["created_at"] + _lognormal(rng, 2 * 3600, 0.8)
            if at <= self.now:
                self.relief_not_needed(c, owner, at, "已由医保和慈善衔接解决")

    def _callback_and_close(self, c: Case, owner: int, resolved: int) -> None:
        rng, v = self.rng, c.values
        if rng.random() < 0.04:  # closed without reaching anyone
            closed = resolved + 3 * DAY
            if closed <= self.now:
                self.close(c, owner, closed)
            return
        called = self.later(v["priority"], "callback", resolved, 4 * 3600, 0.9)
        if called > self.now:
            return
        reached = rng.random() < 0.88
        self.callback(c, owner, called, reached=reached, satisfaction=self._satisfaction() if reached else None)
        closed = called + 600
        if closed > self.now:
            return
        self.close(c, owner, closed)
        reopened = closed + 2 * DAY
        if rng.random() < 0.015 and reopened <= self.now:
            self.reopen(c, owner, reopened, "来电人再次来电，救助款仍未到位")
            if reopened + DAY <= self.now:
                self._resolve_directly(c, owner, reopened + DAY)


# --- the load --------------------------------------------------------------------------------

#: Calls by local hour of the day (a county line: busy in office hours, never silent at night).
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 7, 10, 11, 11, 10, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2)


def _creation_times(rng: random.Random, n: int, start: int, end: int) -> list[int]:
    """``n`` instants between ``start`` and ``end``, busier by day than by night, sorted."""
    hours = list(range(24))
    first_day = (start + LOCAL_OFFSET) // DAY
    days = (end + LOCAL_OFFSET) // DAY - first_day + 1  # every local day touched, today included
    out = []
    while len(out) < n:
        day = rng.randrange(days)
        hour = rng.choices(hours, HOUR_WEIGHTS)[0]
        local_midnight = (first_day + day) * DAY - LOCAL_OFFSET
        at = local_midnight + hour * 3600 + rng.randrange(3600)
        if start <= at < end:
            out.append(at)
    out.sort()
    return out


def next_ids() -> Ids:
    """The first free id of every table the generator writes."""
    return Ids(
        {table: (db.session.scalar(select(func.max(MODELS[table].__table__.c.id))) or 0) + 1 for table in ID_TABLES}
    )


def load_bulk_demo(*, now: datetime, tickets: int, seed: int = 7, days: int = 730, echo=print) -> dict:
    """Load the demo county and ``tickets`` tickets over the last ``days`` days (two years); commits as it goes."""
    rng = random.Random(seed)
    county = _county(now, echo)
    db.session.commit()
    now_ts = int(now.timestamp())
    start_ts = now_ts - days * DAY
    calendar, policy = sla.working_calendar(), sla.sla_policy()
    index = WorkingIndex(
        calendar,
        to_local(datetime.fromtimestamp(start_ts, UTC)).date() - timedelta(days=7),
        to_local(now).date() + timedelta(days=400),
    )
    clocks = Clocks(policy, index)
    clocks.check(calendar, start_ts, now_ts, rng)
    raw = db.engine.raw_connection()
    writer = Writer(raw, db.engine.dialect.name)
    generator = Generator(writer, county, clocks, next_ids(), now_ts, rng)
    db.session.commit()  # no read lock of the session may stand in the way of dropping the indexes
    times = _creation_times(rng, tickets, start_ts, now_ts - 60)
    sequence: dict = {}
    try:
        writer.begin()
        for n, created in enumerate(times, start=1):
            day = local_day(created)
            seq = sequence[day] = sequence.get(day, 0) + 1
            generator.case(created, ticket_number(day, seq))
            if n % CHUNK == 0 or n == len(times):
                writer.flush()
                echo(f"  {n:>9,} tickets written ({n * 100 // len(times)} %)")
        for day, last in sequence.items():
            writer.add("ticket_sequence", {"day": day, "last_value": last})
        writer.flush()
        if writer.dialect == "postgresql":
            cursor = raw.cursor()
            for table in ID_TABLES:
                # Rows came with their ids: the id sequences continue after them.
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
            raw.commit()
        echo("  rebuilding indexes...")
    finally:
        writer.end()
        raw.close()
    return {
        "departments": len(county.units),
        "users": db.session.scalar(select(func.count(User.id))),
        "tickets": len(times),
        "rows": dict(writer.written),
    }
