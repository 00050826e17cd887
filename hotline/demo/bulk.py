"""``flask hotline demo --tickets N`` for large N: two years of realistic history, written in bulk.

The small demo (:mod:`hotline.demo.small`) walks every ticket through the service
functions; at a million tickets that would take hours. This loader writes the
same shapes of rows directly -- tickets with their clock deadlines, referrals,
ticket events, escalation steps, calls and messages, advance relief -- as the
service functions and the sweep would have written them, in chunks: raw
``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Consistency with the real rules:

- deadlines come from ``config/policy/sla.toml`` and the working calendar
  (``chinese-calendar`` + ``calendar.toml``), through a precomputed index of
  the office periods of the two years (:class:`WorkingIndex`), checked at start
  against the reference arithmetic of :mod:`hotline.escalation.sla` on a sample;
- P2/P3 delays are drawn in working time, so a case reported on a Friday
  evening or before the National Day holiday waits like a real one;
- every step of a case happens only if its time is before ``now``: recent
  tickets are still open, in every state, and their running clocks set
  ``next_deadline_at`` (the desk's order) and ``next_escalation_at`` (the sweep);
- escalation steps are written for every ladder rung a clock reached while
  running, with their ``escalation_*`` events, as the sweep would have.

Timestamps are whole seconds, held as integers (epoch) while generating.
"""

import json
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text
from werkzeug.security import generate_password_hash

from hotline.escalation import sla
from hotline.extensions import db
from hotline.policy import catalogue
from hotline.timeutil import LOCAL_UTC_OFFSET, to_local
from models.department import Department
from models.ticket import URGENT_PRIORITIES
from models.user import User

#: Above this many tickets ``flask hotline demo`` takes the bulk path.
BULK_THRESHOLD = 5000
#: Tickets generated and written per chunk (their referrals, events... go with them).
CHUNK = 10_000
DAY = 86400
LADDER = (("warn", 0.75), ("urge", 1.0), ("supervise", 2.0), ("case_conference", 3.0))
LEVEL_RANK = {level: i for i, (level, _at) in enumerate(LADDER)}
MORE_OPERATORS = 21
LOCAL_OFFSET = int(LOCAL_UTC_OFFSET.total_seconds())


# --- working time, precomputed --------------------------------------------------------------


class WorkingIndex:
    """The office periods of every working day from ``first`` to ``last``, for O(log n) working-time arithmetic.

    Same answers as :class:`hotline.escalation.calendar.WorkingCalendar` (checked by
    :meth:`check`): ``add`` gives the earliest instant at which the working time has
    passed, ``end_of_working_day`` the close of office on the n-th working day after.
    """

    def __init__(self, calendar, first: date, last: date):
        self.opens: list[int] = []
        self.closes: list[int] = []
        self.cum_end: list[int] = []  # working seconds up to the close of each period
        self.days: list[int] = []  # ordinals of working days
        #: One working day of working time (7 h for 08:30-12:00 and 14:00-17:30).
        self.day_length = int(calendar.day_length.total_seconds())
        self.day_close: list[int] = []
        total = 0
        day = first
        while day <= last:
            hours = calendar.office_hours(day)
            if hours:
                self.days.append(day.toordinal())
                self.day_close.append(int(hours[-1][1].timestamp()))
                for opening, close in hours:
                    o, c = int(opening.timestamp()), int(close.timestamp())
                    total += c - o
                    self.opens.append(o)
                    self.closes.append(c)
                    self.cum_end.append(total)
            day += timedelta(days=1)

    def worked_before(self, ts: int) -> int:
        i = bisect_right(self.closes, ts)
        before = self.cum_end[i - 1] if i else 0
        if i < len(self.opens) and self.opens[i] < ts:
            before += ts - self.opens[i]
        return before

    def add(self, ts: int, seconds: int) -> int:
        if seconds <= 0:
            return ts
        target = self.worked_before(ts) + seconds
        j = bisect_left(self.cum_end, target)
        return self.closes[j] - (self.cum_end[j] - target)

    def between(self, a: int, b: int) -> int:
        return max(self.worked_before(b) - self.worked_before(a), 0)

    def end_of_working_day(self, ts: int, n: int) -> int:
        local_day = (ts + LOCAL_OFFSET) // DAY + date(1970, 1, 1).toordinal()
        i = bisect_right(self.days, local_day)
        return self.day_close[i + n - 1]

    def check(self, calendar, policy, start: int, end: int, rng: random.Random, samples: int = 300) -> None:
        """Compare with the reference arithmetic; a difference means a bug here, never data to write."""
        for _ in range(samples):
            ts = rng.randrange(start, end)
            at = datetime.fromtimestamp(ts, UTC)
            for priority in ("P2", "P3"):
                for clock in ("acknowledge", "first_contact", "resolve", "callback", "return_review"):
                    rule = policy.rule(priority, clock)
                    expected = int(rule.deadline(at, calendar).timestamp())
                    got = Clocks.deadline_of(self, rule, ts)
                    if got != expected:
                        raise RuntimeError(f"working-time index disagrees for {priority} {clock} from {at}: {got}")


class Clocks:
    """Deadlines and ladder instants for the SLA policy, on integer epoch seconds."""

    UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": DAY}

    def __init__(self, policy, index: WorkingIndex):
        self.policy = policy
        self.index = index

    @staticmethod
    def deadline_of(index: WorkingIndex, rule, ts: int) -> int:
        if rule.unit in Clocks.UNIT_SECONDS:
            return ts + rule.amount * Clocks.UNIT_SECONDS[rule.unit]
        if rule.unit == "working_hours":
            return index.add(ts, rule.amount * 3600)
        if rule.unit == "working_days":
            return index.add(ts, rule.amount * index.day_length)
        return index.end_of_working_day(ts, rule.amount)

    def has(self, priority: str, clock: str) -> bool:
        return clock in self.policy.clocks[priority]

    def due(self, priority: str, clock: str, start: int) -> int:
        return self.deadline_of(self.index, self.policy.rule(priority, clock), start)

    def working(self, priority: str) -> bool:
        return priority in ("P2", "P3")

    def later(self, priority: str, start: int, seconds: int) -> int:
        """``seconds`` after ``start``: working time for P2/P3, wall-clock for P0/P1."""
        return self.index.add(start, seconds) if self.working(priority) else start + seconds

    def ladder(self, priority: str, start: int, due: int) -> list[tuple[str, int]]:
        """When each level fires for a clock started at ``start``, due at ``due`` (as ``sla.ladder_steps``)."""
        out = []
        if self.working(priority):
            length = self.index.between(start, due)
            for level, at in LADDER:
                base, amount = (start, length * at) if at <= 1 else (due, length * (at - 1))
                out.append((level, self.index.add(base, round(amount))))
        else:
            length = due - start
            for level, at in LADDER:
                out.append((level, start + round(length * at) if at <= 1 else due + round(length * (at - 1))))
        return out


# --- writing ---------------------------------------------------------------------------------

COLUMNS = {
    "contact": (
        "id",
        "phone",
        "name",
        "township_id",
        "village_id",
        "is_elderly",
        "is_child",
        "has_disability",
        "lives_alone",
        "sms_opt_out",
        "created_at",
    ),
    "ticket": (
        "id",
        "number",
        "channel",
        "contact_id",
        "category",
        "priority",
        "summary",
        "status",
        "first_contact_owner_id",
        "created_by_id",
        "confidential",
        "sensitive",
        "mandatory_report",
        "emergency_service",
        "merged_into_id",
        "resolution",
        "resolved_at",
        "satisfaction",
        "created_at",
        "updated_at",
        "closed_at",
        "dispatch_due_at",
        "dispatch_started_at",
        "first_contact_due_at",
        "first_contact_at",
        "advance_relief_due_at",
        "advance_relief_at",
        "advance_relief_outcome",
        "paperwork_due_at",
        "paperwork_done_at",
        "callback_due_at",
        "last_callback_at",
        "close_due_at",
        "next_deadline_at",
        "next_escalation_at",
        "escalation_checked_at",
        "escalation_level",
        "version",
    ),
    "referral": (
        "id",
        "ticket_id",
        "department_id",
        "role",
        "status",
        "status_before_return",
        "dispatched_by_id",
        "dispatched_at",
        "acknowledged_at",
        "acknowledged_by_id",
        "resolved_at",
        "resolved_by_id",
        "result",
        "outcome",
        "return_reason",
        "return_comment",
        "return_requested_at",
        "extension_state",
        "extension_reason",
        "extension_until",
        "closed_reason",
        "closed_at",
        "acknowledge_due_at",
        "resolve_due_at",
        "return_review_due_at",
        "next_deadline_at",
        "next_escalation_at",
        "escalation_checked_at",
        "escalation_level",
        "updated_at",
        "version",
    ),
    "ticket_event": ("id", "ticket_id", "referral_id", "actor_id", "kind", "payload", "at"),
    "escalation_step": (
        "id",
        "ticket_id",
        "referral_key",
        "clock",
        "started_at",
        "level",
        "due_at",
        "written_at",
        "actor_id",
        "payload",
    ),
    "interaction": (
        "id",
        "channel",
        "direction",
        "provider_sid",
        "from_number",
        "to_number",
        "number_invalid",
        "contact_id",
        "ticket_id",
        "status",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_seconds",
        "body",
        "menu_choice",
        "missed_at",
        "handled_by_id",
    ),
    "advance_relief": (
        "id",
        "ticket_id",
        "kind",
        "amount_fen",
        "granting_unit_id",
        "status",
        "reason",
        "requested_by_id",
        "requested_at",
        "decided_by_id",
        "decided_at",
        "version",
    ),
    "advance_relief_payment": ("id", "relief_id", "amount_fen", "paid_at", "recorded_by_id", "note"),
    "ticket_sequence": ("day", "last_value"),
}
#: Parents before children (foreign keys).
TABLE_ORDER = (
    "contact",
    "ticket",
    "referral",
    "interaction",
    "ticket_event",
    "escalation_step",
    "advance_relief",
    "advance_relief_payment",
)
TIMESTAMP_COLUMNS = {
    table: {c for c in columns if c == "at" or c.endswith("_at") or c == "extension_until"}
    for table, columns in COLUMNS.items()
}
JSON_COLUMNS = {"ticket_event": {"payload"}, "escalation_step": {"payload"}}
BOOL_COLUMNS = {
    "contact": {"is_elderly", "is_child", "has_disability", "lives_alone", "sms_opt_out"},
    "ticket": {"confidential", "sensitive", "mandatory_report"},
    "interaction": {"number_invalid"},
}


class Writer:
    """Rows per table, written in chunks on one raw connection: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    Rows hold Python values with timestamps as epoch seconds; they are turned into
    what the column type would have stored (naive UTC text on SQLite) on the way out.
    While loading, the secondary indexes of the tables are dropped (rebuilt once at
    the end, which is several times faster than keeping them up to date row by row)
    and SQLite does not re-check foreign keys the generator already keeps right.
    """

    def __init__(self, raw, dialect: str):
        self.raw = raw
        self.dialect = dialect
        self.rows: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
        self.written: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self._days: dict[int, str] = {}
        self._times = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
        self._suffix = ".000000" if dialect == "sqlite" else "+00"
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._converters: dict[str, list[tuple[int, Callable]]] = {}
        for table, columns in COLUMNS.items():
            convert = []
            for i, column in enumerate(columns):
                if column in TIMESTAMP_COLUMNS[table]:
                    convert.append((i, self.stamp))
                elif column in JSON_COLUMNS.get(table, ()):
                    convert.append((i, encode))
                elif column in BOOL_COLUMNS.get(table, ()) and dialect == "sqlite":
                    convert.append((i, int))
            self._converters[table] = convert
        self.indexes: list[tuple[str, str]] = []

    def stamp(self, ts: int) -> str:
        """What SQLAlchemy's DateTime stores on SQLite (naive UTC with microseconds), or a UTC literal for COPY."""
        day, second = divmod(ts, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return f"{prefix} {self._times[second]}{self._suffix}"

    def add(self, table: str, row: tuple) -> None:
        self.rows[table].append(row)

    def begin(self) -> None:
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, where SQLite honours it
            found = [
                row
                for row in cursor.execute(
                    "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "AND sql NOT LIKE 'CREATE UNIQUE%'"
                ).fetchall()
                if row[2] in TABLE_ORDER
            ]
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef NOT LIKE 'CREATE UNIQUE%%' "
                "AND tablename = ANY(%s)",
                (list(TABLE_ORDER),),
            )
            found = cursor.fetchall()
        self.indexes = [(row[0], row[1]) for row in found]
        for name, _sql in self.indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        self.raw.commit()

    def end(self) -> None:
        """Rebuild the indexes, switch foreign keys back on; on PostgreSQL, let the planner learn the new sizes.

        SQLite is left without statistics, as the application's own database is (nothing runs
        ANALYZE there): without STAT4 its statistics know only averages, and on columns as
        skewed as ``status`` (nearly every ticket closed) they lead the planner to scan.
        """
        cursor = self.raw.cursor()
        for _name, sql in self.indexes:
            cursor.execute(sql)
        self.indexes = []
        if self.dialect == "postgresql":
            cursor.execute("ANALYZE")
        self.raw.commit()
        if self.dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=ON")

    def flush(self) -> None:
        """Write every row gathered so far, then commit."""
        for table in (*TABLE_ORDER, "ticket_sequence"):
            rows = self.rows[table]
            if rows:
                self._write(table, rows)
                self.written[table] += len(rows)
                self.rows[table] = []
        self.raw.commit()

    def _convert(self, table: str, rows: list[tuple]) -> list:
        converters = self._converters[table]
        if not converters:
            return rows
        out = []
        for row in rows:
            row = list(row)
            for i, convert in converters:
                value = row[i]
                if value is not None:
                    row[i] = convert(value)
            out.append(row)
        return out

    def _write(self, table: str, rows: list[tuple]) -> None:
        columns = ", ".join(COLUMNS[table])
        converted = self._convert(table, rows)
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _c in COLUMNS[table])
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", converted)  # noqa: S608
            return
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in converted:
                copy.write_row(row)


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


# --- one case --------------------------------------------------------------------------------

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


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(int(median * math.exp(rng.gauss(0, sigma))), 1)


@dataclass
class Ids:
    ticket: int
    contact: int
    referral: int
    event: int
    step: int
    interaction: int
    relief: int
    payment: int

    def next(self, name: str) -> int:
        value = getattr(self, name)
        setattr(self, name, value + 1)
        return value


@dataclass
class _Case:
    """The mutable state of one case while its history is written; becomes one ``ticket`` row."""

    values: dict
    #: (active, next deadline) of each referral written.
    referrals: list[tuple[bool, int | None]] = field(default_factory=list)
    level: str | None = None
    #: The dispatch clock's goal: the first referral, or the answer given directly, of its current run.
    first_dispatch: int | None = None
    #: When the current run of the dispatch clock (the hotline's own) started: logged, or reopened.
    own_start: int | None = None
    #: The first callback after the current resolution (the callback clock's goal).
    callback_at: int | None = None

    def raise_level(self, level: str | None) -> None:
        if level and (self.level is None or LEVEL_RANK[level] > LEVEL_RANK[self.level]):
            self.level = level


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class Generator:
    """Writes the history of one case after another; every step happens only if it is before ``now``."""

    def __init__(self, writer: Writer, county: County, clocks: Clocks, ids: Ids, now: int, rng: random.Random):
        self.w = writer
        self.county = county
        self.clocks = clocks
        self.ids = ids
        self.now = now
        self.rng = rng
        self.categories = [c for c in catalogue().categories if c.code in SUMMARIES]
        self.channels = [c for c, _w in CHANNEL_WEIGHTS]
        self.channel_weights = [w for _c, w in CHANNEL_WEIGHTS]
        self.callers: list[tuple[int, str]] = []
        self.township_of: dict[int, int] = {}
        #: contact id -> (ticket id, closed at) of the caller's latest ticket: a duplicate merges into it.
        self.latest: dict[int, tuple[int, int | None]] = {}
        self.bureaus = sorted((u for u in county.units.values() if u.kind == "bureau"), key=lambda u: u.code)

    # --- helpers ---------------------------------------------------------------------------

    def event(self, ticket_id, kind, at, actor=None, referral_id=None, **payload) -> None:
        self.w.add("ticket_event", (self.ids.next("event"), ticket_id, referral_id, actor, kind, payload, at))

    def later(self, priority: str, start: int, median: float, sigma: float) -> int:
        """A delay drawn around ``median`` seconds: working time for P2/P3, wall-clock for P0/P1."""
        return self.clocks.later(priority, start, _lognormal(self.rng, median, sigma))

    def caller(self, at: int) -> tuple[int, str]:
        rng = self.rng
        if self.callers and rng.random() < 0.18:  # an earlier caller calls again, about something new or not
            return self.callers[rng.randrange(len(self.callers))]
        cid = self.ids.next("contact")
        phone = f"+8613{(cid * 7919) % 1_000_000_000:09d}"
        township = self.county.townships[rng.randrange(len(self.county.townships))]
        villages = self.county.villages.get(township.id, [])
        village = villages[rng.randrange(len(villages))].id if villages else None
        flags = (rng.random() < 0.12, rng.random() < 0.05, rng.random() < 0.04, rng.random() < 0.06)
        self.w.add("contact", (cid, phone, None, township.id, village, *flags, False, at))
        self.township_of[cid] = township.id
        self.callers.append((cid, phone))
        return cid, phone

    def ladder_steps(self, ticket_id, referral, clock, priority, start, due, end) -> str | None:
        """Write the ladder rungs ``clock`` reached while running (until ``end``, or ``now``); the highest level."""
        stop = self.now if end is None else min(end, self.now)
        highest = None
        for level, at in self.clocks.ladder(priority, start, due):
            written = at + 30  # the sweep runs every 30 seconds
            if at > stop or written > self.now:
                break
            payload = {"clock": clock, "level": level, "due_at": _iso(at)}
            key = 0
            if referral is not None:
                payload["department"] = referral["unit_name"]
                key = referral["id"]
            row = (self.ids.next("step"), ticket_id, key, clock, start, level, at, written, None, {})
            self.w.add("escalation_step", row)
            self.event(ticket_id, f"escalation_{level}", written, None, key or None, **payload)
            highest = level
        return highest

    def next_ladder(self, priority: str, running: list[tuple[int, int]]) -> int | None:
        best = None
        for start, due in running:
            for _level, at in self.clocks.ladder(priority, start, due):
                if at > self.now:
                    best = at if best is None else min(best, at)
                    break
        return best

    # --- the case --------------------------------------------------------------------------

    def case(self, created: int, number: str) -> None:
        rng, clocks = self.rng, self.clocks
        tid = self.ids.next("ticket")
        category = self.categories[rng.randrange(len(self.categories))]
        priority = category.priority
        if rng.random() < PRIORITY_BY_CATEGORY_SHIFT:
            priority = rng.choice(("P1", "P2", "P3"))
        if priority == "P1" and rng.random() < 0.05:
            priority = "P0"
        channel = rng.choices(self.channels, self.channel_weights)[0]
        cid, phone = self.caller(created)
        owner = self.county.operators[rng.randrange(len(self.county.operators))]
        missed = channel == "voice" and rng.random() < 0.05
        unclaimed = missed or channel in ("sms", "proactive", "api", "web")
        on_call = not unclaimed and channel in ("voice", "walk_in") and priority in ("P2", "P3") and rng.random() < 0.3
        c = _Case(
            {
                "id": tid,
                "number": number,
                "channel": channel,
                "contact_id": cid,
                "category": category.code,
                "priority": priority,
                "summary": "未接来电，请回电" if missed else SUMMARIES[category.code],
                "status": "new" if unclaimed else "open",
                "first_contact_owner_id": None if unclaimed else owner,
                "created_by_id": None if unclaimed else owner,
                "confidential": rng.random() < 0.03,
                "sensitive": category.code == "child_protection",
                "mandatory_report": False,
                "emergency_service": rng.choice(("110", "120", "119")) if priority == "P0" else None,
                "merged_into_id": None,
                "resolution": None,
                "resolved_at": None,
                "satisfaction": None,
                "created_at": created,
                "updated_at": created,
                "closed_at": None,
                "dispatch_due_at": None,
                "dispatch_started_at": None,
                "first_contact_due_at": None,
                "first_contact_at": None if unclaimed else created,
                "advance_relief_due_at": None,
                "advance_relief_at": None,
                "advance_relief_outcome": None,
                "paperwork_due_at": None,
                "paperwork_done_at": None,
                "callback_due_at": None,
                "last_callback_at": None,
                "close_due_at": None,
                "next_deadline_at": None,
                "next_escalation_at": None,
                "escalation_checked_at": None,
                "escalation_level": None,
                "version": 1,
            }
        )
        v = c.values
        self._intake(c, channel, missed, phone, owner)
        self.event(
            tid,
            "created",
            created,
            None if unclaimed else owner,
            channel=channel,
            priority=priority,
            category=category.code,
        )
        if v["emergency_service"]:
            self.event(tid, "emergency_handover", created, owner, service=v["emergency_service"])
        # The clocks that start with the ticket (log_call / open_unclaimed_ticket, then sync_ticket).
        if clocks.has(priority, "dispatch") and not on_call:
            v["dispatch_due_at"] = clocks.due(priority, "dispatch", created)
            c.own_start = created
        if unclaimed:
            v["first_contact_due_at"] = clocks.due(priority, "first_contact", created)
        if clocks.has(priority, "advance_relief"):
            v["advance_relief_due_at"] = clocks.due(priority, "advance_relief", created)
        target = self.latest.get(cid)
        if target and not unclaimed and rng.random() < 0.3 and (target[1] is None or target[1] > created + 600):
            self._merge(c, owner, target[0])
        elif on_call:
            self._resolve_directly(c, owner, created)
        else:
            start = self._take_and_call(c, owner) if unclaimed else created
            if start is not None:
                self._work(c, owner, start)
        self._finish(c)

    def _intake(self, c: _Case, channel: str, missed: bool, phone: str, owner: int) -> None:
        rng, v = self.rng, c.values
        iid = self.ids.next("interaction")
        created = v["created_at"]
        urgent = v["priority"] in URGENT_PRIORITIES
        if channel == "voice":
            ring = 20 if missed else _lognormal(rng, 7, 0.6)
            started = created - ring
            self.w.add(
                "interaction",
                (
                    iid,
                    "voice",
                    "inbound",
                    f"CA{iid:032x}",
                    phone,
                    "+8610012345",
                    False,
                    v["contact_id"],
                    v["id"],
                    "no-answer" if missed else "completed",
                    started,
                    None if missed else created,
                    started + (25 if missed else 240 + rng.randrange(600)),
                    None,
                    None,
                    "urgent" if urgent else "policy",
                    created if missed else None,
                    None if missed else owner,
                ),
            )
            if missed:
                minutes = 30 if urgent else 120
                self.event(
                    v["id"],
                    "missed_call",
                    created,
                    line="urgent" if urgent else "policy",
                    minutes=minutes,
                    callback_by=_iso(created + minutes * 60),
                )
            return
        answered = created if channel == "walk_in" else None
        self.w.add(
            "interaction",
            (
                iid,
                channel,
                "inbound",
                f"SM{iid:032x}" if channel == "sms" else None,
                phone,
                None,
                False,
                v["contact_id"],
                v["id"],
                "received" if channel == "sms" else "completed",
                created,
                answered,
                None,
                None,
                v["summary"] if channel == "sms" else None,
                None,
                None,
                owner if answered else None,
            ),
        )

    def _take_and_call(self, c: _Case, owner: int) -> int | None:
        """An unclaimed ticket is taken and the person called back (first contact). None: not yet, as of now."""
        v = c.values
        urgent = v["priority"] in URGENT_PRIORITIES
        taken = v["created_at"] + _lognormal(self.rng, 6 * 60 if urgent else 40 * 60, 0.9)
        if taken > self.now:
            return None
        v.update(status="open", first_contact_owner_id=owner, updated_at=taken)
        self.event(v["id"], "taken", taken, owner)
        called = taken + _lognormal(self.rng, 5 * 60, 0.8)
        while True:
            if called > self.now:
                return None
            reached = self.rng.random() < 0.85
            v.update(last_callback_at=called, updated_at=called)
            self.event(v["id"], "callback", called, owner, reached=reached, satisfaction=None, comment=None)
            if reached:
                v["first_contact_at"] = called
                return called
            called += _lognormal(self.rng, 3600, 0.7)

    def _merge(self, c: _Case, owner: int, target: int) -> None:
        v = c.values
        merged = v["created_at"] + 600
        if merged > self.now:
            return
        reason = "同一来电人重复反映同一事项"
        v.update(status="merged", merged_into_id=target, closed_at=merged, updated_at=merged)
        self.event(v["id"], "merged_into", merged, owner, target=str(target), reason=reason)
        self.event(target, "merged_from", merged, owner, source=v["number"], reason=reason)

    def _resolve_directly(self, c: _Case, owner: int, at: int) -> None:
        v = c.values
        answer = "已告知办理流程和所需材料，并联系村（社区）协助。"
        v.update(status="pending_callback", resolved_at=at, resolution=answer, updated_at=at)
        if c.first_dispatch is None:
            c.first_dispatch = at
        c.callback_at = None
        self.event(v["id"], "resolved_directly", at, owner, answer=answer)
        self._callback_and_close(c, owner, at)

    def _work(self, c: _Case, owner: int, start: int) -> None:
        """Advance relief for P0/P1; refer (most cases) or answer; then callback and close."""
        v = c.values
        priority = v["priority"]
        if priority in URGENT_PRIORITIES:
            self._relief(c, owner)
        if priority in ("P2", "P3") and self.rng.random() < 0.12:
            at = self.later(priority, start, 1800, 0.8)
            if at <= self.now:
                self._resolve_directly(c, owner, at)
            return
        urgent = priority in URGENT_PRIORITIES
        dispatched = self.later(priority, start, 12 * 60 if urgent else 3600, 0.8)
        if dispatched > self.now:
            return
        v.update(status="referred", updated_at=dispatched)
        if self.rng.random() < 0.06:
            repeat = start + _lognormal(self.rng, 20 * 3600, 1.0)
            if repeat <= self.now:
                self.event(v["id"], "repeat_call", repeat, owner, note=None, channel="voice")
        finished = [self._referral(c, owner, unit, role, dispatched) for role, unit in self._units_for(v)]
        if any(f is None for f in finished):
            return
        done = max(finished)
        v.update(status="pending_callback", resolved_at=done, updated_at=done)
        self.event(v["id"], "referrals_done", done, None, resolved=len(finished))
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

    def _referral(self, c: _Case, owner: int, unit: Department, role: str, dispatched: int, redispatch=False):
        """One referral's life; returns when it (or its redispatch) was resolved, None if not finished as of now."""
        rng, clocks, v = self.rng, self.clocks, c.values
        priority = v["priority"]
        staff = self.county.staff.get(unit.id)
        r = {
            "id": self.ids.next("referral"),
            "unit_name": unit.name,
            "status": "dispatched",
            "status_before_return": None,
            "acknowledged_at": None,
            "resolved_at": None,
            "outcome": None,
            "return_reason": None,
            "return_requested_at": None,
            "return_review_due_at": None,
            "extension_state": "none",
            "extension_until": None,
            "closed_at": None,
            "updated_at": dispatched,
            "acknowledge_due": clocks.due(priority, "acknowledge", dispatched),
            "resolve_due": clocks.due(priority, "resolve", dispatched),
        }
        if c.first_dispatch is None:
            c.first_dispatch = dispatched
        self.event(
            v["id"],
            "referral_dispatched",
            dispatched,
            owner,
            r["id"],
            department=unit.name,
            role=role,
            instructions=None,
        )
        urgent = priority in URGENT_PRIORITIES
        ack_median = 20 * 60 if urgent else (5400 if priority == "P2" else 3 * 3600)
        returns = not redispatch and rng.random() < 0.05
        result = None
        if returns and rng.random() < 0.4:  # asked to return before acknowledging
            result = self._return(c, owner, unit, role, r, self.later(priority, dispatched, ack_median, 0.7))
        else:
            ack = self.later(priority, dispatched, ack_median, 0.9)
            if ack <= self.now:
                r.update(status="acknowledged", acknowledged_at=ack, updated_at=ack)
                self.event(v["id"], "referral_acknowledged", ack, staff, r["id"], department=unit.name)
                progress = self.later(priority, ack, 1800 if urgent else 3 * 3600, 0.8)
                if progress <= self.now:
                    contacted = v["first_contact_at"] is None
                    if contacted:
                        v["first_contact_at"] = progress
                    r.update(status="in_progress", updated_at=progress)
                    self.event(
                        v["id"],
                        "referral_progress",
                        progress,
                        staff,
                        r["id"],
                        department=unit.name,
                        text="已联系当事人，正在核实情况。",
                        contacted=contacted,
                    )
                    if returns:
                        result = self._return(c, owner, unit, role, r, self.later(priority, progress, 3600, 0.7))
                    else:
                        result = self._resolve(c, unit, r, progress, dispatched)
        self._referral_row(c, r, unit, role, owner, dispatched)
        return result

    def _resolve(self, c: _Case, unit: Department, r: dict, progress: int, dispatched: int) -> int | None:
        rng, clocks, v = self.rng, self.clocks, c.values
        priority, staff = v["priority"], self.county.staff.get(unit.id)
        due = r["resolve_due"]
        length = due - dispatched if priority in URGENT_PRIORITIES else clocks.index.between(dispatched, due)
        resolved = self.later(priority, dispatched, length * 0.45, 0.75)
        if priority == "P3" and rng.random() < 0.05:  # 延期: asked once, before the deadline; a manager decides
            asked = clocks.later(priority, progress, 3600)
            if asked < due and asked <= self.now:
                until = clocks.index.add(due, 5 * 7 * 3600)
                r.update(extension_state="requested", extension_until=until, updated_at=asked)
                self.event(
                    v["id"],
                    "extension_requested",
                    asked,
                    staff,
                    r["id"],
                    department=unit.name,
                    reason="需入户核实",
                    until=_iso(until),
                )
                decided = asked + _lognormal(rng, 4 * 3600, 0.6)
                if decided <= self.now:
                    approve = rng.random() < 0.8
                    r.update(extension_state="approved" if approve else "denied", updated_at=decided)
                    self.event(
                        v["id"],
                        "extension_approved" if approve else "extension_denied",
                        decided,
                        self.county.manager,
                        r["id"],
                        department=unit.name,
                        comment=None,
                        old_deadline=_iso(due),
                        new_deadline=_iso(until) if approve else None,
                    )
                    if approve:
                        r["resolve_due"] = until
                        resolved = max(resolved, self.later(priority, decided, 3600, 0.5))
        if resolved <= progress:
            resolved = progress + 600
        if resolved > self.now:
            return None
        outcome = rng.choice(("relief_granted", "relief_granted", "referred_on", "not_eligible", "other"))
        r.update(status="resolved", resolved_at=resolved, closed_at=resolved, updated_at=resolved, outcome=outcome)
        self.event(
            v["id"],
            "referral_resolved",
            resolved,
            staff,
            r["id"],
            department=unit.name,
            result="已办结，已反馈来电人。",
            outcome=outcome,
            via=None,
        )
        return resolved

    def _return(self, c: _Case, owner: int, unit: Department, role: str, r: dict, asked: int) -> int | None:
        """退单: asked, then decided; accepted ones go to another unit, rejected ones back to work."""
        rng, v = self.rng, c.values
        priority, staff = v["priority"], self.county.staff.get(unit.id)
        if asked > self.now:
            return None
        reason = rng.choice(("not_our_remit", "wrong_township", "insufficient_information"))
        r.update(
            status_before_return=r["status"],
            status="return_requested",
            return_requested_at=asked,
            return_reason=reason,
            return_review_due_at=self.clocks.due(priority, "return_review", asked),
            updated_at=asked,
        )
        self.event(
            v["id"],
            "return_requested",
            asked,
            staff,
            r["id"],
            department=unit.name,
            reason=reason,
            comment="不属于本单位职责。",
        )
        decided = asked + _lognormal(rng, 3 * 3600, 0.8)
        if decided > self.now:
            return None
        r["return_review_due_at"] = None
        if rng.random() < 0.25 and r["status_before_return"] != "dispatched":
            r.update(status=r["status_before_return"], updated_at=decided)
            self.event(
                v["id"], "return_rejected", decided, owner, r["id"], department=unit.name, comment="请先核实情况。"
            )
            return self._resolve(c, unit, r, decided, r["updated_at"])
        r.update(status="returned", closed_at=decided, updated_at=decided)
        self.event(v["id"], "referral_returned", decided, owner, r["id"], department=unit.name, reason="改派")
        self.event(v["id"], "return_accepted", decided, owner, r["id"], department=unit.name, comment="改派")
        others = [u for u in self.bureaus if u.id != unit.id]
        return self._referral(c, owner, others[rng.randrange(len(others))], role, decided, redispatch=True)

    def _referral_row(self, c: _Case, r: dict, unit: Department, role: str, owner: int, dispatched: int) -> None:
        v, priority = c.values, c.values["priority"]
        ack_goal = r["acknowledged_at"] or r["return_requested_at"]
        level = None
        for clock, due, end in (
            ("acknowledge", r["acknowledge_due"], ack_goal or r["closed_at"]),
            ("resolve", r["resolve_due"], r["closed_at"]),
        ):
            reached = self.ladder_steps(v["id"], r, clock, priority, dispatched, due, end)
            if reached and (level is None or LEVEL_RANK[reached] > LEVEL_RANK[level]):
                level = reached
        c.raise_level(level)
        active = r["status"] in ("dispatched", "acknowledged", "in_progress", "return_requested")
        running = []
        if active:
            if r["status"] == "dispatched":
                running.append((dispatched, r["acknowledge_due"]))
            running.append((dispatched, r["resolve_due"]))
        dues = [due for _s, due in running] + (
            [r["return_review_due_at"]] if active and r["return_review_due_at"] else []
        )
        next_deadline = min(dues, default=None)
        c.referrals.append((active, next_deadline))
        staff = self.county.staff.get(unit.id)
        self.w.add(
            "referral",
            (
                r["id"],
                v["id"],
                unit.id,
                role,
                r["status"],
                r["status_before_return"],
                owner,
                dispatched,
                r["acknowledged_at"],
                staff if r["acknowledged_at"] else None,
                r["resolved_at"],
                staff if r["resolved_at"] else None,
                "已办结，已反馈来电人。" if r["resolved_at"] else None,
                r["outcome"],
                r["return_reason"],
                "不属于本单位职责。" if r["return_reason"] else None,
                r["return_requested_at"],
                r["extension_state"],
                "需入户核实" if r["extension_state"] != "none" else None,
                r["extension_until"],
                "改派" if r["status"] == "returned" else None,
                r["closed_at"],
                r["acknowledge_due"],
                r["resolve_due"],
                r["return_review_due_at"],
                next_deadline,
                self.next_ladder(priority, running) if active else None,
                self.now if active else None,
                level,
                r["updated_at"],
                1,
            ),
        )

    def _relief(self, c: _Case, owner: int) -> None:
        """先行救助 for P0/P1: granted (most), ruled out, or not decided yet; paperwork after a grant."""
        rng, v = self.rng, c.values
        roll = rng.random()
        if roll < 0.6:
            at = v["created_at"] + _lognormal(rng, 5 * 3600, 0.9)
            if at > self.now:
                return
            amount = rng.choice((1000, 2000, 2000, 3000, 3000)) * 100
            relief = self.ids.next("relief")
            unit = self.township_of[v["contact_id"]]
            reason = "急难先行救助"
            self.w.add(
                "advance_relief",
                (relief, v["id"], "temporary_assistance", amount, unit, "approved", reason, owner, at, owner, at, 1),
            )
            self.w.add(
                "advance_relief_payment", (self.ids.next("payment"), relief, amount, at + 3600, owner, "一次性发放")
            )
            yuan = str(amount // 100)
            self.event(
                v["id"],
                "relief_granted",
                at,
                owner,
                relief=relief,
                relief_kind="temporary_assistance",
                amount_fen=amount,
                amount=yuan,
                reason=reason,
            )
            due = self.clocks.due(v["priority"], "paperwork", at)
            v.update(advance_relief_at=at, advance_relief_outcome="granted", paperwork_due_at=due)
            done = at + _lognormal(rng, 3 * DAY, 0.5)
            if rng.random() < 0.97 and done <= self.now:
                v["paperwork_done_at"] = done
                self.event(
                    v["id"],
                    "paperwork_done",
                    done,
                    owner,
                    note="材料已补齐",
                    amount_fen=amount,
                    amount=yuan,
                    on_time=done <= due,
                )
        elif roll < 0.9:
            at = v["created_at"] + _lognormal(rng, 2 * 3600, 0.8)
            if at <= self.now:
                v.update(advance_relief_at=at, advance_relief_outcome="not_needed")
                self.event(v["id"], "relief_not_needed", at, owner, reason="已由医保和慈善衔接解决")

    def _callback_and_close(self, c: _Case, owner: int, resolved: int) -> None:
        rng, v = self.rng, c.values
        v["callback_due_at"] = self.clocks.due(v["priority"], "callback", resolved)
        if rng.random() < 0.04:  # closed without reaching anyone
            closed = resolved + 3 * DAY
            if closed <= self.now:
                v.update(status="closed", closed_at=closed, updated_at=closed)
                self.event(v["id"], "closed", closed, owner, resolution=None)
            return
        called = self.later(v["priority"], resolved, 4 * 3600, 0.9)
        if called > self.now:
            return
        reached = rng.random() < 0.88
        satisfaction = rng.choices((1, 2, 3, 4, 5), (2, 3, 8, 30, 57))[0] if reached else None
        v.update(last_callback_at=called, updated_at=called)
        v["close_due_at"] = self.clocks.due(v["priority"], "close", called)
        c.callback_at = called
        if reached:
            v["satisfaction"] = satisfaction
        self.event(v["id"], "callback", called, owner, reached=reached, satisfaction=satisfaction, comment=None)
        closed = called + 600
        if closed > self.now:
            return
        v.update(status="closed", closed_at=closed, updated_at=closed)
        self.event(v["id"], "closed", closed, owner, resolution=None)
        reopened = closed + 2 * DAY
        if rng.random() < 0.015 and reopened <= self.now:
            # The runs that ended climbed their ladders; reopened, the hotline's own clock runs again.
            priority = v["priority"]
            for clock, start, due, end in (
                ("dispatch", c.own_start, v["dispatch_due_at"], c.first_dispatch),
                ("callback", v["resolved_at"], v["callback_due_at"], called),
                ("close", called, v["close_due_at"], closed),
            ):
                if start is not None and due is not None:
                    c.raise_level(self.ladder_steps(v["id"], None, clock, priority, start, due, end))
            v.update(status="open", closed_at=None, resolved_at=None, callback_due_at=None, updated_at=reopened)
            v.update(close_due_at=None, dispatch_due_at=self.clocks.due(priority, "dispatch", reopened))
            c.own_start, c.first_dispatch = reopened, None
            c.callback_at = None
            self.event(v["id"], "reopened", reopened, owner, reason="来电人再次来电，救助款仍未到位")
            if reopened + DAY <= self.now:
                self._resolve_directly(c, owner, reopened + DAY)

    def _finish(self, c: _Case) -> None:
        """The ticket's own ladder, its denormalised clock columns (as ``sync_ticket``), and its row."""
        v, priority = c.values, c.values["priority"]
        is_open = v["status"] in ("new", "open", "referred", "pending_callback")
        merged = v["status"] == "merged"
        called_back = c.callback_at
        ticket_clocks = (
            ("dispatch", c.own_start, v["dispatch_due_at"], c.first_dispatch or v["closed_at"]),
            ("first_contact", v["created_at"], v["first_contact_due_at"], v["first_contact_at"] or v["closed_at"]),
            ("advance_relief", v["created_at"], v["advance_relief_due_at"], v["advance_relief_at"] or v["closed_at"]),
            (
                "paperwork",
                v["advance_relief_at"],
                v["paperwork_due_at"],
                v["paperwork_done_at"] or (v["closed_at"] if merged else None),
            ),
            ("callback", v["resolved_at"], v["callback_due_at"], called_back or v["closed_at"]),
            ("close", v["last_callback_at"] if v["close_due_at"] else None, v["close_due_at"], v["closed_at"]),
        )
        running = []
        for clock, start, due, end in ticket_clocks:
            if due is None or start is None:
                continue
            c.raise_level(self.ladder_steps(v["id"], None, clock, priority, start, due, end))
            if end is None and (is_open or clock == "paperwork"):
                running.append((start, due))
                if clock == "dispatch":
                    v["dispatch_started_at"] = start
        v["escalation_level"] = c.level
        dues = [due for _s, due in running] + [due for active, due in c.referrals if active and due]
        if dues:
            v["next_deadline_at"] = min(dues)
            v["next_escalation_at"] = self.next_ladder(priority, running)
            v["escalation_checked_at"] = self.now
        if not merged:
            self.latest[v["contact_id"]] = (v["id"], v["closed_at"])
        self.w.add("ticket", tuple(v[col] for col in COLUMNS["ticket"]))


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


def _next_ids() -> Ids:
    def top(table: str) -> int:
        return (db.session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1  # noqa: S608 (fixed names)

    return Ids(
        ticket=top("ticket"),
        contact=top("contact"),
        referral=top("referral"),
        event=top("ticket_event"),
        step=top("escalation_step"),
        interaction=top("interaction"),
        relief=top("advance_relief"),
        payment=top("advance_relief_payment"),
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
    index.check(calendar, policy, start_ts, now_ts, rng)
    clocks = Clocks(policy, index)
    raw = db.engine.raw_connection()
    writer = Writer(raw, db.engine.dialect.name)
    generator = Generator(writer, county, clocks, _next_ids(), now_ts, rng)
    db.session.commit()  # no read lock of the session may stand in the way of dropping the indexes
    times = _creation_times(rng, tickets, start_ts, now_ts - 60)
    sequence: dict[str, int] = {}
    try:
        writer.begin()
        for n, created in enumerate(times, start=1):
            local_day = _local_day(created)
            seq = sequence[local_day] = sequence.get(local_day, 0) + 1
            generator.case(created, f"{local_day}{seq:04d}")
            if n % CHUNK == 0 or n == len(times):
                writer.flush()
                echo(f"  {n:>9,} tickets written ({n * 100 // len(times)} %)")
        for local_day, last in sequence.items():
            writer.add("ticket_sequence", (f"{local_day[:4]}-{local_day[4:6]}-{local_day[6:]}", last))
        writer.flush()
        if writer.dialect == "postgresql":
            cursor = raw.cursor()
            for table in TABLE_ORDER:
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


def _local_day(ts: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=(ts + LOCAL_OFFSET) // DAY)).strftime("%Y%m%d")
