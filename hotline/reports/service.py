"""What managers review: the figures, response times and lists, as SQL aggregates.

Pure query functions: every one takes the period, the scope (every unit, or
a department's own units) and ``now`` explicitly, and reads only what the
service functions wrote (timestamps, states, ticket events). The README's
"Figures" section defines each figure; this module is that definition in SQL.

Three populations, each counted by when it started:

- **tickets** created in the period (duplicates merged into another ticket are
  left out: the case is counted once, on the ticket it was merged into);
- **referrals** dispatched in the period;
- **calls**: inbound calls that reached the hotline's number (a Twilio
  CallSid) in the period.

Each is built once as a "facts" subquery (one row per ticket, referral or
call, with its durations and the state of each clock), and every figure, every
table cell and every list is a filter or an aggregate over those rows. So a
figure and the list behind its link always count the same things.

A clock with a deadline is, as of ``now``:
``on_time`` when its goal was met by the deadline; ``late`` when it was met
after it, or is still unmet past it (or was stopped unmet after it: the ticket
closed, the referral was returned or cancelled); ``pending`` when it is still
unmet and still within time, or was stopped unmet within time. Pending ones
are left out of compliance rates: they are neither kept nor broken yet.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import pairwise

from sqlalchemy import and_, case, exists, false, func, literal, null, or_, select, true

from hotline.access import referred_to
from hotline.extensions import db
from hotline.reports import dialect
from hotline.timeutil import LOCAL_TZ, to_local
from models.contact import Contact
from models.department import Department
from models.escalation import BREACH_LEVELS
from models.external_report import ExternalReport
from models.interaction import Interaction, voice
from models.outbox import OutboundMessage
from models.referral import ACTIVE_STATUSES, Referral
from models.relief import AdvanceRelief
from models.ticket import OPEN_STATUSES, URGENT_PRIORITIES, Ticket, TicketEvent
from models.types import UTCDateTime

#: GB/T 33358-2016: a call is answered within 15 seconds.
ANSWER_SECONDS = 15
#: 满意: 4 (satisfied) or 5 (very satisfied) on the 5-level scale.
SATISFIED_FROM = 4
PERIODS = ("today", "7d", "30d")
STATES = dialect.STATES
#: Upper bounds (hours) of the bars of the time-to-advance-relief histogram; the last bar is open.
RELIEF_BUCKET_HOURS = (1, 3, 6, 12, 24, 48)

TICKET_CLOCKS = ("dispatch", "first_contact", "advance_relief", "paperwork", "callback")
REFERRAL_CLOCKS = ("acknowledge", "resolve")
CALL_CLOCKS = ("answer",)
CLOCKS = ("answer", "dispatch", "acknowledge", "first_contact", "advance_relief", "resolve", "paperwork", "callback")


# --- period and scope ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local (Asia/Shanghai) dates ``first`` .. ``last``, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), LOCAL_TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), LOCAL_TZ)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @classmethod
    def named(cls, name: str, now: datetime) -> "Period":
        """``today``, ``7d`` or ``30d``: that many local days up to and including today."""
        today = to_local(now).date()
        days = {"today": 1, "7d": 7, "30d": 30}[name]
        return cls(today - timedelta(days=days - 1), today)


@dataclass(frozen=True)
class Scope:
    """Whose figures: every unit (``units`` None), or a department's own units and those below it."""

    units: frozenset[int] | None = None

    @property
    def everything(self) -> bool:
        return self.units is None


def _instant(value: datetime):
    return literal(value, UTCDateTime())


def _flag(condition):
    return case((condition, 1), else_=0)


def _state(due, goal, stop, now):
    """on_time / late / pending for one clock (see the module docstring); NULL when it has no deadline."""
    return case(
        (due.is_(None), null()),
        (and_(goal.is_not(None), goal <= due), "on_time"),
        (or_(goal.is_not(None), func.coalesce(stop, _instant(now)) > due), "late"),
        else_="pending",
    )


# --- facts -----------------------------------------------------------------------------------


def _first_contact_seconds():
    """Ticket created -> first contact, for tickets whose first-contact clock ran (NULL for the others).

    A call an operator answered is a contact at once (0 s): counting those would
    put every percentile at 0 and hide how long texts, missed calls and reports
    from outside waited for a person to reach them. The time is measured for
    exactly the tickets the clock judges, so the count and the deadlines kept agree.
    """
    return case(
        (
            Ticket.first_contact_due_at.is_not(None),
            dialect.seconds_between(Ticket.first_contact_at, Ticket.created_at),
        )
    )


def _acknowledge_goal():
    """When a unit answered a referral: it acknowledged it, or asked it back (退单) before acknowledging.

    The acknowledge clock and the time to acknowledge both end here, so a unit's
    count of timed referrals is never smaller than its count of deadlines kept.
    """
    return func.coalesce(Referral.acknowledged_at, Referral.return_requested_at)


def _tickets_in(period: Period):
    return and_(Ticket.created_at >= period.start, Ticket.created_at < period.end, Ticket.status != "merged")


def ticket_facts(period: Period, scope: Scope, now: datetime, *, light: bool = False, place: bool = True):
    """One row per ticket created in ``period`` (and referred to the scope's units, for a department).

    ``light``: only the ticket's own columns, durations and the clocks that need no event
    (first contact, advance relief): what the response-time tables read; ``place``: with
    the caller's township (a join).
    """
    in_period = _tickets_in(period)
    if light:
        return _light_ticket_facts(in_period, scope, now, place).subquery("tf")
    referral_filter = [in_period] if scope.everything else [in_period, Referral.department_id.in_(scope.units)]
    refs = (
        select(
            Referral.ticket_id.label("ticket_id"),
            func.count().label("n"),
            func.sum(_flag(Referral.status.in_(ACTIVE_STATUSES))).label("active"),
            func.sum(_flag(Referral.status == "resolved")).label("resolved"),
        )
        .join(Ticket, Ticket.id == Referral.ticket_id)
        .where(*referral_filter)
        .group_by(Referral.ticket_id)
        .subquery("refs")
    )
    after_resolution = and_(TicketEvent.kind == "callback", TicketEvent.at >= Ticket.resolved_at)
    reached = TicketEvent.payload["reached"].as_boolean() == true()
    ev = (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            func.max(_flag(TicketEvent.kind == "resolved_directly")).label("direct"),
            func.max(_flag(TicketEvent.kind == "repeat_call")).label("repeat"),
            func.min(case((TicketEvent.kind.in_(("referral_dispatched", "resolved_directly")), TicketEvent.at))).label(
                "dispatched_at"
            ),
            func.min(case((after_resolution, TicketEvent.at))).label("callback_at"),
            func.max(_flag(and_(after_resolution, reached))).label("reached"),
        )
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            in_period,
            dialect.not_indexed(TicketEvent.kind).in_(
                ("resolved_directly", "repeat_call", "referral_dispatched", "callback")
            ),
        )
        .group_by(TicketEvent.ticket_id)
        .subquery("ev")
    )
    referred = func.coalesce(refs.c.n, 0) > 0
    granted = Ticket.advance_relief_outcome == "granted"
    stmt = (
        select(
            Ticket.id.label("id"),
            Ticket.created_at.label("created_at"),
            Ticket.channel.label("channel"),
            Ticket.source.label("source"),
            Ticket.priority.label("priority"),
            Ticket.category.label("category"),
            Ticket.status.label("status"),
            Contact.township_id.label("township_id"),
            Ticket.satisfaction.label("satisfaction"),
            Ticket.triage_verdict.label("triage_verdict"),
            func.coalesce(ev.c.direct, 0).label("direct"),
            func.coalesce(ev.c.repeat, 0).label("repeat"),
            _flag(referred).label("referred"),
            _flag(and_(referred, refs.c.active == 0, refs.c.resolved > 0)).label("loop_closed"),
            _flag(Ticket.resolved_at.is_not(None)).label("resolved"),
            func.coalesce(ev.c.reached, 0).label("called_back"),
            _flag(granted).label("relief_granted"),
            _first_contact_seconds().label("first_contact_s"),
            case((granted, dialect.seconds_between(Ticket.advance_relief_at, Ticket.created_at))).label(
                "advance_relief_s"
            ),
            _state(Ticket.dispatch_due_at, ev.c.dispatched_at, Ticket.closed_at, now).label("st_dispatch"),
            _state(Ticket.first_contact_due_at, Ticket.first_contact_at, Ticket.closed_at, now).label(
                "st_first_contact"
            ),
            _state(Ticket.advance_relief_due_at, Ticket.advance_relief_at, Ticket.closed_at, now).label(
                "st_advance_relief"
            ),
            _state(Ticket.paperwork_due_at, Ticket.paperwork_done_at, null(), now).label("st_paperwork"),
            _state(Ticket.callback_due_at, ev.c.callback_at, Ticket.closed_at, now).label("st_callback"),
        )
        .select_from(Ticket)
        .outerjoin(Contact, Contact.id == Ticket.contact_id)
        .outerjoin(refs, refs.c.ticket_id == Ticket.id)
        .outerjoin(ev, ev.c.ticket_id == Ticket.id)
        .where(in_period)
    )
    if not scope.everything:
        stmt = stmt.where(referred)
    return stmt.subquery("tf")


def _light_ticket_facts(in_period, scope: Scope, now: datetime, place: bool):
    stmt = (
        select(
            Ticket.id.label("id"),
            Ticket.created_at.label("created_at"),
            Ticket.channel.label("channel"),
            Ticket.source.label("source"),
            Ticket.priority.label("priority"),
            Ticket.category.label("category"),
            (Contact.township_id if place else null()).label("township_id"),
            _first_contact_seconds().label("first_contact_s"),
            case(
                (
                    Ticket.advance_relief_outcome == "granted",
                    dialect.seconds_between(Ticket.advance_relief_at, Ticket.created_at),
                )
            ).label("advance_relief_s"),
            _state(Ticket.first_contact_due_at, Ticket.first_contact_at, Ticket.closed_at, now).label(
                "st_first_contact"
            ),
            _state(Ticket.advance_relief_due_at, Ticket.advance_relief_at, Ticket.closed_at, now).label(
                "st_advance_relief"
            ),
        )
        .select_from(Ticket)
        .where(in_period)
    )
    if place:
        stmt = stmt.outerjoin(Contact, Contact.id == Ticket.contact_id)
    if not scope.everything:
        stmt = stmt.where(referred_to(scope.units))
    return stmt


def referral_facts(period: Period, scope: Scope, now: datetime, *, place: bool = True):
    """One row per referral dispatched in ``period`` (to the scope's units, for a department).

    ``place``: with the ticket's priority, category, channel and the caller's township (joins).
    """
    where = (Ticket.priority, Ticket.category, Ticket.channel, Contact.township_id)
    stmt = (
        select(
            Referral.id.label("id"),
            Referral.ticket_id.label("ticket_id"),
            Referral.department_id.label("department_id"),
            Referral.dispatched_at.label("created_at"),
            Referral.status.label("status"),
            *((c if place else null()).label(c.key) for c in where),
            dialect.seconds_between(_acknowledge_goal(), Referral.dispatched_at).label("acknowledge_s"),
            case(
                (Referral.status == "resolved", dialect.seconds_between(Referral.resolved_at, Referral.dispatched_at))
            ).label("resolve_s"),
            _flag(Referral.return_requested_at.is_not(None)).label("return_requested"),
            _flag(Referral.status == "returned").label("returned"),
            _flag(Referral.extension_state != "none").label("extension_requested"),
            _state(Referral.acknowledge_due_at, _acknowledge_goal(), Referral.closed_at, now).label("st_acknowledge"),
            _state(Referral.resolve_due_at, Referral.resolved_at, Referral.closed_at, now).label("st_resolve"),
        )
        .select_from(Referral)
        .where(Referral.dispatched_at >= period.start, Referral.dispatched_at < period.end)
    )
    if place:
        stmt = stmt.join(Ticket, Ticket.id == Referral.ticket_id).outerjoin(Contact, Contact.id == Ticket.contact_id)
    if not scope.everything:
        stmt = stmt.where(Referral.department_id.in_(scope.units))
    return stmt.subquery("rf")


def _callback_window_seconds():
    """Seconds within which a missed call must be called back: the intake policy of the line the caller chose."""
    from hotline.intake import intake

    policy = intake().policy
    default = policy.minutes_to_callback(policy.line(None).priority) * 60
    whens = [
        (Interaction.menu_choice == line.code, policy.minutes_to_callback(line.priority) * 60) for line in policy.lines
    ]
    return case(*whens, else_=default)


def call_facts(period: Period, scope: Scope, now: datetime, *, place: bool = True):
    """One row per inbound call that reached the line in ``period``. Departments see no calls (empty)."""
    callback_at = (
        select(func.min(TicketEvent.at))
        .where(
            TicketEvent.ticket_id == Interaction.ticket_id,
            TicketEvent.kind == "callback",
            TicketEvent.at >= Interaction.missed_at,
        )
        .scalar_subquery()
    )
    answered = Interaction.answered_at.is_not(None)
    missed = and_(Interaction.answered_at.is_(None), Interaction.missed_at.is_not(None))
    inner = (
        select(
            Interaction.id.label("id"),
            Interaction.ticket_id.label("ticket_id"),
            Interaction.started_at.label("created_at"),
            Interaction.answered_at.label("answered_at"),
            Interaction.missed_at.label("missed_at"),
            case((missed, callback_at)).label("callback_at"),
            _callback_window_seconds().label("window_s"),
            (Ticket.priority if place else null()).label("priority"),
            (Ticket.category if place else null()).label("category"),
            (Contact.township_id if place else null()).label("township_id"),
            _flag(answered).label("answered"),
            _flag(missed).label("missed"),
        )
        .select_from(Interaction)
        .where(
            voice(),
            Interaction.direction == "inbound",
            Interaction.provider_sid.is_not(None),
            Interaction.started_at >= period.start,
            Interaction.started_at < period.end,
            true() if scope.everything else false(),
        )
    )
    if place:
        inner = inner.outerjoin(Ticket, Ticket.id == Interaction.ticket_id).outerjoin(
            Contact, Contact.id == Ticket.contact_id
        )
    # callback_at (a correlated subquery) is read by several expressions below: computed once.
    inner = dialect.not_inlined(inner).subquery("ci")
    answer_s = dialect.seconds_between(inner.c.answered_at, inner.c.created_at)
    callback_s = dialect.seconds_between(inner.c.callback_at, inner.c.missed_at)
    waited_s = dialect.seconds_between(_instant(now), inner.c.missed_at)
    state = case(
        (inner.c.answered == 1, case((answer_s <= ANSWER_SECONDS, "on_time"), else_="late")),
        (inner.c.missed == 0, null()),
        (callback_s <= inner.c.window_s, "on_time"),
        (or_(inner.c.callback_at.is_not(None), waited_s > inner.c.window_s), "late"),
        else_="pending",
    )
    stmt = select(
        inner.c.id,
        inner.c.ticket_id,
        inner.c.created_at,
        inner.c.priority,
        inner.c.category,
        inner.c.township_id,
        inner.c.answered,
        inner.c.missed,
        case(
            (inner.c.answered == 1, answer_s),
            (inner.c.callback_at.is_not(None), dialect.seconds_between(inner.c.callback_at, inner.c.created_at)),
        ).label("answer_s"),
        state.label("st_answer"),
    )
    return stmt.subquery("cf")


FACTS = {"tickets": ticket_facts, "referrals": referral_facts, "calls": call_facts}
CLOCK_POPULATION = {
    **dict.fromkeys(TICKET_CLOCKS, "tickets"),
    **dict.fromkeys(REFERRAL_CLOCKS, "referrals"),
    **dict.fromkeys(CALL_CLOCKS, "calls"),
}


# --- named sets: what a figure counts, and what its link lists ----------------------------------


def _sets(population: str, f) -> dict:
    """Name -> condition on the facts ``f`` of ``population``. A figure is a count of one set over another."""
    sets = {"all": true()}
    clocks = {"tickets": TICKET_CLOCKS, "referrals": REFERRAL_CLOCKS, "calls": CALL_CLOCKS}[population]
    for clock in clocks:
        st = f.c[f"st_{clock}"]
        for state in STATES:
            sets[f"{clock}_{state}"] = st == state
        sets[f"{clock}_counted"] = st.in_(("on_time", "late"))
    if population == "tickets":
        sets |= {
            "direct": f.c.direct == 1,
            "referred": f.c.referred == 1,
            "loop_closed": f.c.loop_closed == 1,
            "resolved": f.c.resolved == 1,
            "called_back": f.c.called_back == 1,
            "rated": f.c.satisfaction.is_not(None),
            "satisfied": f.c.satisfaction >= SATISFIED_FROM,
            "repeat": f.c.repeat == 1,
            "proactive": f.c.channel == "proactive",
            "relief_granted": f.c.relief_granted == 1,
            "first_contact_measured": f.c.first_contact_s.is_not(None),
            "advance_relief_measured": f.c.advance_relief_s.is_not(None),
            "triage_confirmed": f.c.triage_verdict == "confirmed",
            "triage_reviewed": f.c.triage_verdict.is_not(None),
        }
        for i, (low, high) in enumerate(relief_buckets()):
            seconds = f.c.advance_relief_s
            sets[f"relief_bucket_{i}"] = and_(
                seconds >= low * 3600, seconds < high * 3600 if high is not None else true()
            )
    elif population == "referrals":
        sets |= {
            "return_requested": f.c.return_requested == 1,
            "returned": f.c.returned == 1,
            "extension_requested": f.c.extension_requested == 1,
            "acknowledge_measured": f.c.acknowledge_s.is_not(None),
            "resolve_measured": f.c.resolve_s.is_not(None),
        }
    else:
        sets |= {
            "answered": f.c.answered == 1,
            "missed": f.c.missed == 1,
            "ended": or_(f.c.answered == 1, f.c.missed == 1),
            "answer_measured": f.c.answer_s.is_not(None),
        }
    return sets


def relief_buckets() -> list[tuple[int, int | None]]:
    """(from, to) hours of each histogram bar; the last one has no upper end."""
    bounds = (0, *RELIEF_BUCKET_HOURS)
    return [*pairwise(bounds), (bounds[-1], None)]


# --- dimensions ------------------------------------------------------------------------------

DIMENSIONS = ("unit", "priority", "category", "township", "day", "week", "month")


@dataclass(frozen=True)
class Filters:
    """Narrowing of a list to the group behind a table cell or a chart bar."""

    unit: int | None = None
    priority: str | None = None
    category: str | None = None
    township: int | None = None
    channel: str | None = None
    #: A source code of ``sources.toml``: the tickets its reports opened (tickets only).
    source: str | None = None
    #: A local date (``YYYY-MM-DD``) and the grain it is the start of.
    bucket: str | None = None
    grain: str = "day"
    #: True: only rows with no value for the dimension (the "—" row of a table).
    none_of: str | None = None

    def as_args(self) -> dict:
        out = {}
        for key in ("unit", "priority", "category", "township", "channel", "source", "bucket", "none_of"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.bucket is not None:
            out["grain"] = self.grain
        return out


def _unit_members(population: str, f, unit_ids):
    """Rows of ``f`` that belong to the units ``unit_ids`` (tickets: referred to one of them)."""
    if population == "referrals":
        return f.c.department_id.in_(unit_ids)
    if population == "tickets":
        return referred_to(unit_ids, f.c.id)
    return false()


def _filter_clauses(population: str, f, filters: Filters, scope: Scope) -> list:
    clauses = []
    if filters.unit is not None:
        clauses.append(_unit_members(population, f, [filters.unit]))
    for key in ("priority", "category", "township"):
        value = getattr(filters, key)
        column = "township_id" if key == "township" else key
        if value is not None:
            clauses.append(f.c[column] == value)
    if filters.channel is not None and population != "calls":
        clauses.append(f.c.channel == filters.channel)
    if filters.source is not None:
        clauses.append(f.c.source == filters.source if population == "tickets" else false())
    if filters.bucket is not None:
        clauses.append(dialect.local_bucket(f.c.created_at, filters.grain) == filters.bucket)
    if filters.none_of in ("priority", "category", "township"):
        clauses.append(f.c["township_id" if filters.none_of == "township" else filters.none_of].is_(None))
    elif filters.none_of == "unit":
        units = scope.units if not scope.everything else select(Department.id).scalar_subquery()
        clauses.append(~_unit_members(population, f, units) if population != "calls" else true())
    return clauses


# --- the dashboard figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A rate: ``numerator`` set over ``denominator`` set of one population (both link to their lists)."""

    key: str
    population: str
    numerator: str
    denominator: str
    #: Chinese name used in the exports and beside the English label on screen.
    zh: str


#: The figures of DOMAIN.md "Figures managers ask for", in that order. Definitions: README "Figures".
FIGURES = (
    Figure("answer_rate", "calls", "answered", "ended", "接通率"),
    Figure("answered_on_call", "tickets", "direct", "all", "直接答复率"),
    Figure("acknowledged_on_time", "referrals", "acknowledge_on_time", "acknowledge_counted", "按时签收率"),
    Figure("return_rate", "referrals", "return_requested", "all", "退单率"),
    Figure("resolved_on_time", "referrals", "resolve_on_time", "resolve_counted", "按时办结率"),
    Figure("advance_relief_on_time", "tickets", "advance_relief_on_time", "advance_relief_counted", "先行救助及时率"),
    Figure("paperwork_on_time", "tickets", "paperwork_on_time", "paperwork_counted", "补齐手续及时率"),
    Figure("referrals_closed", "tickets", "loop_closed", "referred", "转介闭环率"),
    Figure("callback_rate", "tickets", "called_back", "resolved", "回访率"),
    Figure("satisfaction", "tickets", "satisfied", "rated", "满意率"),
    Figure("repeat_callers", "tickets", "repeat", "all", "重复来电率"),
    Figure("proactive_share", "tickets", "proactive", "all", "主动发现占比"),
    Figure("triage_right", "tickets", "triage_confirmed", "triage_reviewed", "研判准确率"),
)


@dataclass
class Rate:
    figure: Figure
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return None if not self.denominator else 100.0 * self.numerator / self.denominator


def count_sets(population: str, period: Period, scope: Scope, now: datetime, names, filters: Filters | None = None):
    """How many rows of ``population`` each named set holds: {name: count}."""
    f = FACTS[population](period, scope, now)
    sets = _sets(population, f)
    where = _filter_clauses(population, f, filters or Filters(), scope)
    stmt = select(*(func.coalesce(func.sum(_flag(sets[n])), 0).label(n) for n in names)).where(*where)
    row = db.session.execute(stmt).one()
    return {n: int(row._mapping[n]) for n in names}


def _populations(scope: Scope) -> tuple[str, ...]:
    return ("calls", "tickets", "referrals") if scope.everything else ("tickets", "referrals")


def _relief_bucket_names() -> list[str]:
    return [f"relief_bucket_{i}" for i in range(len(relief_buckets()))]


def dashboard_counts(period: Period, scope: Scope, now: datetime) -> dict[str, dict[str, int]]:
    """Every set the dashboard counts (figures, clock states, histogram), one pass per population."""
    needed: dict[str, set[str]] = {population: set() for population in _populations(scope)}
    for fig in FIGURES:
        if fig.population in needed:
            needed[fig.population].update((fig.numerator, fig.denominator))
    for clock in CLOCKS:
        if CLOCK_POPULATION[clock] in needed:
            needed[CLOCK_POPULATION[clock]].update(f"{clock}_{state}" for state in STATES)
    needed["tickets"].update(_relief_bucket_names())
    return {
        population: count_sets(population, period, scope, now, sorted(names)) for population, names in needed.items()
    }


def figures(period: Period, scope: Scope, now: datetime, counts: dict | None = None) -> list[Rate]:
    """The managers' figures for ``period``; for a department, the call figures are left out.

    ``counts``: from :func:`dashboard_counts`, when the caller has them already.
    """
    counts = counts or dashboard_counts(period, scope, now)
    return [
        Rate(fig, counts[fig.population][fig.numerator], counts[fig.population][fig.denominator])
        for fig in FIGURES
        if fig.population in counts
    ]


def clock_compliance(period: Period, scope: Scope, now: datetime, counts: dict | None = None) -> dict:
    """Every clock: {on_time, late, pending} counts of the items it ran for, started in ``period``."""
    counts = counts or dashboard_counts(period, scope, now)
    return {
        clock: {state: counts[CLOCK_POPULATION[clock]][f"{clock}_{state}"] for state in STATES}
        for clock in CLOCKS
        if CLOCK_POPULATION[clock] in counts
    }


def tickets_by_channel(period: Period, scope: Scope, now: datetime) -> dict[str, int]:
    f = ticket_facts(period, scope, now, light=True, place=False)
    rows = db.session.execute(select(f.c.channel, func.count()).group_by(f.c.channel)).all()
    return {channel: n for channel, n in rows}


@dataclass
class SourceRow:
    """主动发现 by source: the tickets a source's reports opened in the period, and how soon people were reached.

    ``alert_to_contact``: seconds from the alert to the ticket's first contact, for the tickets contacted so
    far; the alert is its 预警日期 (``alerted_at`` kept by the import: local midnight for a date alone), else
    the moment the report was received. A contact dated before its alert (a platform's late date) counts 0.
    """

    source: str
    tickets: int = 0
    contacted: int = 0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None


def tickets_by_source(period: Period, scope: Scope, now: datetime, codes) -> list[SourceRow]:
    """One row per source code of ``codes`` (``sources.toml`` order): tickets created in ``period`` by its
    reports (referred to the scope's units, for a department), and the time from alert to first contact.

    Computed in Python from the period's reported tickets (a county's few thousand): the percentiles are
    the same linear interpolation as ``percentile_cont``, on both databases.
    """
    stmt = (
        select(
            Ticket.source, Ticket.created_at, Ticket.first_contact_at, ExternalReport.received_at, ExternalReport.extra
        )
        .outerjoin(ExternalReport, and_(ExternalReport.ticket_id == Ticket.id, ExternalReport.outcome == "created"))
        .where(_tickets_in(period), Ticket.source.is_not(None))
    )
    if not scope.everything:
        stmt = stmt.where(referred_to(scope.units))
    rows = {code: SourceRow(code) for code in codes}
    waits: dict[str, list[float]] = {code: [] for code in codes}
    for source, created_at, contacted_at, received_at, extra in db.session.execute(stmt):
        row = rows.get(source)
        if row is None:
            continue
        row.tickets += 1
        if contacted_at is None:
            continue
        alerted = (extra or {}).get("alerted_at")
        start = datetime.fromisoformat(alerted) if alerted else (received_at or created_at)
        waits[source].append(max((contacted_at - start).total_seconds(), 0.0))
    for code, values in waits.items():
        values.sort()
        row = rows[code]
        row.contacted = len(values)
        if values:
            row.mean = round(sum(values) / len(values), 3)
            row.p50, row.p90 = _interpolated(values, 0.5), _interpolated(values, 0.9)
    return list(rows.values())


def _interpolated(ordered: list[float], q: float) -> float:
    """``percentile_cont(q)`` of sorted values: linear interpolation between the closest ranks."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)


def daily_trend(period: Period, scope: Scope, now: datetime) -> list[dict]:
    """Per local day of ``period``: new tickets, and how many of them P0/P1."""
    f = ticket_facts(period, scope, now, light=True, place=False)
    day = dialect.local_bucket(f.c.created_at, "day").label("day")
    tickets = {
        d: (n, urgent)
        for d, n, urgent in db.session.execute(
            select(day, func.count(), func.sum(_flag(f.c.priority.in_(URGENT_PRIORITIES)))).group_by(day).order_by(day)
        )
    }
    out = []
    for d in period.days:
        key = d.isoformat()
        n, urgent = tickets.get(key, (0, 0))
        out.append({"day": key, "tickets": n, "urgent": int(urgent or 0)})
    return out


def relief_histogram(period: Period, scope: Scope, now: datetime, counts: dict | None = None) -> list[dict]:
    """Tickets whose advance relief was granted, by hours from the call to the grant."""
    counts = (counts or dashboard_counts(period, scope, now))["tickets"]
    return [
        {"set": name, "low": low, "high": high, "count": counts[name]}
        for name, (low, high) in zip(_relief_bucket_names(), relief_buckets(), strict=True)
    ]


# --- response times --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    key: str
    population: str
    #: The facts column holding the duration in seconds.
    column: str
    #: The clock whose compliance is shown beside it.
    clock: str
    zh: str


MEASURES = (
    Measure("answer", "calls", "answer_s", "answer", "接听或回拨用时"),
    Measure("acknowledge", "referrals", "acknowledge_s", "acknowledge", "签收用时"),
    Measure("first_contact", "tickets", "first_contact_s", "first_contact", "首次联系用时"),
    Measure("advance_relief", "tickets", "advance_relief_s", "advance_relief", "先行救助用时"),
    Measure("resolve", "referrals", "resolve_s", "resolve", "办结用时"),
)


@dataclass
class TimeRow:
    """One group of a response-time table: durations in seconds, clock states in counts."""

    group: object
    n: int = 0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    on_time: int = 0
    late: int = 0
    pending: int = 0

    @property
    def compliance(self) -> float | None:
        decided = self.on_time + self.late
        return None if not decided else 100.0 * self.on_time / decided


@dataclass
class TimeTable:
    measure: Measure
    dimension: str
    rows: list[TimeRow] = field(default_factory=list)
    total: TimeRow | None = None


def _grouped(population: str, f, dimension: str, period: Period, scope: Scope):
    """(select_from, group expression) of ``f`` by ``dimension``; tickets by unit go once per unit referred to."""
    if dimension in ("day", "week", "month"):
        return f, dialect.local_bucket(f.c.created_at, dimension)
    if dimension == "unit":
        if population == "referrals":
            return f, f.c.department_id
        if population == "calls":
            return f, null()
        # Each ticket of f with each of its referrals (to the scope's units), read by the
        # (ticket_id, department_id) index, which holds both columns: as many rows as the period
        # has, whichever month it is. The caller keeps one row per (ticket, unit) (DISTINCT).
        referred = Referral.ticket_id == f.c.id
        if not scope.everything:
            referred = and_(referred, Referral.department_id.in_(scope.units))
        return f.outerjoin(Referral, referred), Referral.department_id
    column = {"priority": "priority", "category": "category", "township": "township_id"}[dimension]
    return f, f.c[column]


def _round(value) -> float | None:
    return None if value is None else round(float(value), 3)


def response_times(
    period: Period, scope: Scope, now: datetime, dimension: str | None, measures: tuple[Measure, ...] | None = None
) -> list[TimeTable]:
    """p50 / p90 / p95, mean and count of each measure per group of ``dimension``, with its clock's compliance.

    Percentiles are exact: ``percentile_cont`` on PostgreSQL, the same interpolation with
    window functions on SQLite (see :mod:`hotline.reports.dialect`). Each table also carries
    the total over every group (a ticket referred to two units counts once there);
    ``dimension`` None gives only the totals.
    """
    if dimension is not None and dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    wanted = [m for m in measures or MEASURES if scope.everything or m.population != "calls"]
    # The measures of one population (first contact and advance relief of tickets; acknowledge and
    # resolve of referrals) read the same items: one pass each, the populations side by side.
    batches = [[m for m in wanted if m.population == p] for p in dict.fromkeys(m.population for m in wanted)]
    results = dialect.run_concurrently(
        [partial(_time_rows, batch[0].population, batch, period, scope, now, dimension) for batch in batches]
    )
    figures = {
        m.key: found for batch, rows in zip(batches, results, strict=True) for m, found in zip(batch, rows, strict=True)
    }
    tables = []
    for measure in wanted:
        groups, total = figures[measure.key]
        table = TimeTable(measure, dimension)
        table.rows = sorted((TimeRow(k, **v) for k, v in groups.items()), key=lambda r: (r.group is None, str(r.group)))
        table.total = TimeRow(None, **total)
        tables.append(table)
    return tables


def _time_rows(
    population: str, measures: list[Measure], period: Period, scope: Scope, now: datetime, dimension: str | None
) -> list[tuple[dict, dict]]:
    """Per measure of ``population``: ({group: figures}, total figures); figures are n, mean, p50, p90, p95,
    on_time, late, pending."""
    place = dimension in ("priority", "category", "township")
    builder = {"tickets": ticket_facts, "referrals": referral_facts, "calls": call_facts}[population]
    options = {"light": True} if population == "tickets" else {}
    facts = builder(period, scope, now, place=place, **options)
    # Only the columns these measures read.
    wanted = {"id", "department_id", "created_at", "priority", "category", "township_id"}
    for measure in measures:
        wanted |= {measure.column, f"st_{measure.clock}"}
    f = dialect.computed_once(select(*(col for col in facts.c if col.key in wanted)), "f")
    pairs = [(f"dur_{i}", f"st_{i}") for i in range(len(measures))]
    values = [
        f.c[column].label(label)
        for measure, (dur, st) in zip(measures, pairs, strict=True)
        for column, label in ((measure.column, dur), (f"st_{measure.clock}", st))
    ]
    item = f.c.id.label("id")
    # Calls have no unit: their table by unit is the total alone.
    grouped = dimension is not None and not (population == "calls" and dimension == "unit")
    # A ticket referred twice to one unit counts once there.
    distinct = grouped and dimension == "unit" and population == "tickets"
    if grouped:
        source, group = _grouped(population, f, dimension, period, scope)
        rows = select(item, group.label("g"), *values).select_from(source)
        rows = (rows.distinct() if distinct else rows).subquery("v")
    else:
        rows = select(item, *values).subquery("v")
    # f has one row per item: the total over all groups, with no item counted twice.
    items = select(item, *values).subquery("items") if distinct else None
    out = []
    for groups, total in dialect.summarize_many(rows, pairs, grouped=grouped, distinct_total=distinct, items=items):
        keep = {g: _rounded(v) for g, v in groups.items() if v["n"] or any(v[s] for s in STATES)}
        out.append((keep, _rounded(total)))
    return out


def _rounded(figures: dict) -> dict:
    out = dict(figures)
    out["n"] = int(out["n"] or 0)
    for key in ("mean", "p50", "p90", "p95"):
        out[key] = _round(out[key])
    return out


def unit_compliance(period: Period, scope: Scope, now: datetime) -> list[dict]:
    """Per unit: on-time acknowledge and on-time resolution of the referrals dispatched to it in ``period``."""
    f = referral_facts(period, scope, now)
    stmt = select(
        f.c.department_id,
        *(
            func.sum(_flag(f.c[f"st_{clock}"] == state)).label(f"{clock}_{state}")
            for clock in REFERRAL_CLOCKS
            for state in ("on_time", "late")
        ),
    ).group_by(f.c.department_id)
    names = department_names()
    out = []
    for row in db.session.execute(stmt).mappings():
        item = {"unit": row["department_id"], "name": names.get(row["department_id"], "?")}
        for clock in REFERRAL_CLOCKS:
            on_time, late = int(row[f"{clock}_on_time"] or 0), int(row[f"{clock}_late"] or 0)
            item[clock] = {
                "on_time": on_time,
                "late": late,
                "percent": None if not on_time + late else 100.0 * on_time / (on_time + late),
            }
        out.append(item)
    return sorted(out, key=lambda i: i["name"])


# --- now: open cases, overdue, waiting decisions, health ----------------------------------------


def _open_ticket_scope(scope: Scope):
    if scope.everything:
        return true()
    return exists().where(
        Referral.ticket_id == Ticket.id,
        Referral.department_id.in_(scope.units),
        Referral.status.in_(ACTIVE_STATUSES),
    )


def open_urgent(scope: Scope) -> dict[str, int]:
    """Open P0/P1 tickets by state (the department's: with an active referral to its units)."""
    rows = db.session.execute(
        select(Ticket.status, func.count())
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.priority.in_(URGENT_PRIORITIES), _open_ticket_scope(scope))
        .group_by(Ticket.status)
    ).all()
    found = dict(rows)
    return {s: found.get(s, 0) for s in OPEN_STATUSES}


def overdue_by_unit(scope: Scope, now: datetime) -> list[dict]:
    """Active referrals past a deadline, per unit; for managers also tickets overdue on the hotline's own clocks."""
    stmt = select(Referral.department_id, func.count()).where(
        Referral.status.in_(ACTIVE_STATUSES), Referral.next_deadline_at < _instant(now)
    )
    if not scope.everything:
        stmt = stmt.where(Referral.department_id.in_(scope.units))
    names = department_names()
    out = [
        {"unit": unit, "name": names.get(unit, "?"), "count": n}
        for unit, n in db.session.execute(stmt.group_by(Referral.department_id))
    ]
    out.sort(key=lambda i: (-i["count"], i["name"]))
    if scope.everything:
        own = db.session.scalar(select(func.count()).select_from(Ticket).where(_hotline_overdue(now)))
        if own:
            out.insert(0, {"unit": None, "name": None, "count": own})
    return out


def _hotline_overdue(now: datetime):
    """Open tickets past a deadline of their own (no active referral of theirs is overdue)."""
    return and_(
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.next_deadline_at < _instant(now),
        ~exists().where(
            Referral.ticket_id == Ticket.id,
            Referral.status.in_(ACTIVE_STATUSES),
            Referral.next_deadline_at < _instant(now),
        ),
    )


#: Lists of what stands now, whatever the period.
CURRENT_LISTS = ("breached", "open_urgent", "overdue", "returns_waiting", "extensions_waiting", "paperwork_overdue")


def current_list_select(name: str, scope: Scope, now: datetime, *, unit: int | None = None, status: str | None = None):
    """The SELECT of the tickets or referrals of a current list; ``(population, select)``.

    - ``breached``: open tickets past a deadline or escalated to 催办 and above (督办 lists, worst first);
    - ``open_urgent``: open P0/P1 tickets (``status`` narrows);
    - ``overdue``: active referrals past a deadline (``unit`` narrows; ``unit`` 0: the hotline's own clocks);
    - ``returns_waiting`` / ``extensions_waiting``: referrals waiting for a decision on 退单 / 延期;
    - ``paperwork_overdue``: granted advance relief whose paperwork is past its deadline.
    """
    moment = _instant(now)
    units = None if scope.everything else scope.units
    if name == "breached":
        if units is None:
            cond = and_(
                Ticket.status.in_(OPEN_STATUSES),
                or_(Ticket.escalation_level.in_(BREACH_LEVELS), Ticket.next_deadline_at < moment),
            )
        else:
            cond = and_(
                Ticket.status.in_(OPEN_STATUSES),
                exists().where(
                    Referral.ticket_id == Ticket.id,
                    Referral.department_id.in_(units),
                    Referral.status.in_(ACTIVE_STATUSES),
                    or_(Referral.escalation_level.in_(BREACH_LEVELS), Referral.next_deadline_at < moment),
                ),
            )
        order = (Ticket.next_deadline_at.is_(None), Ticket.next_deadline_at, Ticket.id)
        return "tickets", select(Ticket).where(cond).order_by(*order)
    if name == "open_urgent":
        stmt = select(Ticket).where(
            Ticket.status.in_(OPEN_STATUSES), Ticket.priority.in_(URGENT_PRIORITIES), _open_ticket_scope(scope)
        )
        if status in OPEN_STATUSES:
            stmt = stmt.where(Ticket.status == status)
        return "tickets", stmt.order_by(Ticket.next_deadline_at.is_(None), Ticket.next_deadline_at, Ticket.id)
    if name == "paperwork_overdue":
        stmt = select(Ticket).where(
            Ticket.status != "merged",
            Ticket.paperwork_done_at.is_(None),
            Ticket.paperwork_due_at < moment,
            _ticket_in_units(units),
        )
        return "tickets", stmt.order_by(Ticket.paperwork_due_at, Ticket.id)
    if name == "overdue" and unit == 0 and units is None:
        return "tickets", select(Ticket).where(_hotline_overdue(now)).order_by(Ticket.next_deadline_at, Ticket.id)
    if name == "overdue":
        cond = and_(Referral.status.in_(ACTIVE_STATUSES), Referral.next_deadline_at < moment)
    elif name == "returns_waiting":
        cond = Referral.status == "return_requested"
    elif name == "extensions_waiting":
        cond = and_(Referral.extension_state == "requested", Referral.status.in_(ACTIVE_STATUSES))
    else:
        raise ValueError(f"unknown list {name!r}")
    stmt = select(Referral).where(cond)
    if units is not None:
        stmt = stmt.where(Referral.department_id.in_(units))
    if unit:
        stmt = stmt.where(Referral.department_id == unit)
    return "referrals", stmt.order_by(Referral.next_deadline_at.is_(None), Referral.next_deadline_at, Referral.id)


def _ticket_in_units(units):
    return true() if units is None else referred_to(units)


def current_counts(scope: Scope, now: datetime) -> dict[str, int]:
    """How many rows each current list holds."""
    out = {}
    for name in ("breached", "returns_waiting", "extensions_waiting", "paperwork_overdue"):
        _pop, stmt = current_list_select(name, scope, now)
        out[name] = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return out


def relief_waiting_approval(scope: Scope) -> int:
    """Advance relief above the township limit waiting for a manager (一事一议)."""
    stmt = select(func.count()).select_from(AdvanceRelief).where(AdvanceRelief.status == "pending_approval")
    if not scope.everything:
        stmt = stmt.where(AdvanceRelief.granting_unit_id.in_(scope.units))
    return db.session.scalar(stmt)


def outbox_health(now: datetime) -> dict:
    """The SMS outbox: messages per status, the oldest still queued, failures in the last 24 hours."""
    by_status = dict(
        db.session.execute(select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)).all()
    )
    oldest = db.session.scalar(
        select(func.min(OutboundMessage.created_at)).where(OutboundMessage.status.in_(("queued", "sending")))
    )
    failed_day = db.session.scalar(
        select(func.count())
        .select_from(OutboundMessage)
        .where(OutboundMessage.status == "failed", OutboundMessage.created_at >= _instant(now - timedelta(days=1)))
    )
    return {
        "by_status": by_status,
        "oldest_waiting_seconds": None if oldest is None else (now - oldest).total_seconds(),
        "failed_last_day": failed_day,
    }


# --- the lists behind the figures -------------------------------------------------------------


def facts_list_select(
    population: str, set_name: str, period: Period, scope: Scope, now: datetime, filters: Filters | None = None
):
    """The SELECT of the tickets, referrals or calls a figure counts (newest first)."""
    f = FACTS[population](period, scope, now)
    sets = _sets(population, f)
    if set_name not in sets:
        raise ValueError(f"unknown set {set_name!r} of {population}")
    ids = select(f.c.id).where(sets[set_name], *_filter_clauses(population, f, filters or Filters(), scope))
    model = {"tickets": Ticket, "referrals": Referral, "calls": Interaction}[population]
    start = {"tickets": Ticket.created_at, "referrals": Referral.dispatched_at, "calls": Interaction.started_at}
    return select(model).where(model.id.in_(ids)).order_by(start[population].desc(), model.id.desc())


def department_names() -> dict[int, str]:
    return dict(db.session.execute(select(Department.id, Department.name)).all())
