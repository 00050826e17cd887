"""Service clocks (时限): ``config/policy/sla.toml`` read once per application, and deadline arithmetic.

Everything here is a pure function of its arguments: the start instant is
passed in and nothing reads the clock. ``policy`` and ``calendar`` default to
the current application's (loaded by :func:`init_sla` at start-up); tests and
jobs may pass their own. Instants go in aware (a naive one is UTC) and come
out aware in UTC.

Continuous clocks (P0/P1) are plain ``timedelta`` arithmetic: nights and
holidays count. Working-time clocks (P2/P3) count office hours on working
days, see :mod:`hotline.escalation.calendar`.
"""

import logging
import string
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path
from time import monotonic

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hotline import toml_checks
from hotline.escalation.calendar import (
    CalendarError,
    WorkingCalendar,
    YearOverride,
    as_utc,
    load_calendar,
    office_periods,
    unknown_years_message,
)
from hotline.extensions import db
from hotline.timeutil import to_local
from models.calendar import CalendarDay, CalendarYear
from models.escalation import LEVELS
from models.ticket import PRIORITIES

#: Every clock a ticket or referral can carry, in the order they are shown.
CLOCKS = (
    "dispatch",
    "acknowledge",
    "first_contact",
    "advance_relief",
    "resolve",
    "paperwork",
    "return_review",
    "callback",
    "close",
    "pause_review",
)
#: Clocks the ticket and referral services start for every priority: with them every open
#: ticket runs a clock in every state (``pause_review`` only counts for priorities that pause).
REQUIRED_CLOCKS = ("dispatch", "acknowledge", "first_contact", "resolve", "return_review", "callback", "close")
CONTINUOUS_UNITS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1), "days": timedelta(days=1)}
WORKING_UNITS = ("working_hours", "working_days", "end_of_working_day")
#: Who hears of a ladder level: the referral's unit staff, the first-contact owner, every active manager.
AUDIENCES = ("unit", "owner", "managers")
#: Texts to a unit's duty phone (``[unit_sms]``) and the placeholders each may use.
UNIT_SMS = {
    "dispatched": ("number", "priority", "summary", "within"),
    "urged": ("number", "priority", "summary"),
}
#: How ``{within}`` reads for a clock of each unit ("1小时").
WITHIN = {
    "minutes": "{n}分钟",
    "hours": "{n}小时",
    "days": "{n}天",
    "working_hours": "{n}个工作小时",
    "working_days": "{n}个工作日",
    "end_of_working_day": "{n}个工作日",
}


class SlaPolicyError(ValueError):
    """``sla.toml`` is malformed; raised when the application starts, naming the file and the key."""


_table = partial(toml_checks.table, error=SlaPolicyError)
_only_keys = partial(toml_checks.only_keys, error=SlaPolicyError)


@dataclass(frozen=True)
class ClockRule:
    """One clock's length: ``amount`` of ``unit``; the unit decides whether it counts 24/7 or working time."""

    unit: str
    amount: int

    @property
    def mode(self) -> str:
        """``continuous`` (24/7) or ``working`` (office hours on working days)."""
        return "continuous" if self.unit in CONTINUOUS_UNITS else "working"

    def deadline(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        """When this clock, started at ``start``, is due."""
        if self.unit in CONTINUOUS_UNITS:
            return as_utc(start) + self.amount * CONTINUOUS_UNITS[self.unit]
        if self.unit == "working_hours":
            return calendar.add_working_time(start, hours=self.amount)
        if self.unit == "working_days":
            return calendar.add_working_time(start, days=self.amount)
        return calendar.end_of_working_day(start, self.amount)

    def within(self) -> str:
        """The length as a unit's text gives it: ``1小时``, ``5个工作日``."""
        return WITHIN[self.unit].format(n=self.amount)


@dataclass(frozen=True)
class LadderLevel:
    """A rung of the escalation ladder: ``level`` fires ``at`` clock-lengths after the clock started.

    ``audience``: who is notified (some of :data:`AUDIENCES`).
    """

    level: str
    at: float
    audience: tuple[str, ...]


@dataclass(frozen=True)
class LadderStep:
    """When one rung fires for one running clock."""

    level: str
    at: datetime


@dataclass(frozen=True)
class SlaPolicy:
    """The parsed ``sla.toml``."""

    #: priority -> clock -> rule; P0 holds a copy of the priority it follows (``same_as``).
    clocks: Mapping[str, Mapping[str, ClockRule]]
    #: priority -> the most a resolve deadline may be extended by; absent: no limit set.
    max_extension: Mapping[str, ClockRule]
    ladder: tuple[LadderLevel, ...]
    #: 小额先行救助: the amount a township grants without a manager's approval.
    advance_relief_limit_yuan: int
    office_periods: tuple[tuple[time, time], ...]
    #: ``[unit_sms]``: text name (:data:`UNIT_SMS`) -> template with ``{placeholders}``.
    unit_sms: Mapping[str, str]

    def audience(self, level: str) -> tuple[str, ...]:
        """Who hears of ``level``; a level the ladder does not have reaches no one."""
        return next((step.audience for step in self.ladder if step.level == level), ())

    def unit_text(self, name: str, *, number: str, priority: str, summary: str) -> str:
        """The ``[unit_sms]`` text ``name`` filled for a ticket; ``{within}`` is its priority's acknowledge clock."""
        values = {"number": number, "priority": priority, "summary": summary}
        if "within" in UNIT_SMS[name]:
            values["within"] = self.rule(priority, "acknowledge").within()
        return self.unit_sms[name].format(**values)

    def rule(self, priority: str, clock: str) -> ClockRule:
        """The rule of ``clock`` for ``priority``; ``LookupError`` when that priority has no such clock."""
        try:
            return self.clocks[priority][clock]
        except KeyError:
            raise LookupError(f"sla.toml has no {clock!r} clock for priority {priority!r}") from None


# --- loading ----------------------------------------------------------------------------------


def load_sla(path: Path) -> SlaPolicy:
    """Read and check ``sla.toml``; every mistake raises :class:`SlaPolicyError` naming the file and key."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SlaPolicyError(f"{path}: not valid TOML: {exc}") from exc
    where = str(path)
    _only_keys(data, {"working_hours", "advance_relief", "ladder", "priority", "unit_sms"}, where)

    hours = _table(data, "working_hours", where)
    _only_keys(hours, {"periods"}, f"{where}: [working_hours]")
    try:
        periods = office_periods(hours.get("periods", []))
    except CalendarError as exc:
        raise SlaPolicyError(f"{where}: [working_hours] periods: {exc}") from exc

    relief = _table(data, "advance_relief", where)
    _only_keys(relief, {"township_limit_yuan"}, f"{where}: [advance_relief]")
    limit = relief.get("township_limit_yuan")
    if not _is_positive_int(limit):
        raise SlaPolicyError(f"{where}: [advance_relief] township_limit_yuan must be a whole number of yuan above 0")

    clocks, extensions = _priorities(_table(data, "priority", where), where)
    return SlaPolicy(
        clocks=clocks,
        max_extension=extensions,
        ladder=_ladder(data.get("ladder"), where),
        advance_relief_limit_yuan=limit,
        office_periods=periods,
        unit_sms=_unit_sms(_table(data, "unit_sms", where), where),
    )


def _unit_sms(table: dict, where: str) -> dict[str, str]:
    _only_keys(table, set(UNIT_SMS), f"{where}: [unit_sms]")
    texts = {}
    for name, allowed in UNIT_SMS.items():
        here = f"{where}: [unit_sms] {name}"
        text = table.get(name)
        if not isinstance(text, str) or not text.strip():
            raise SlaPolicyError(f'{here}: write the text, such as "急难转介 {{number}}，请{{within}}内签收。"')
        try:
            fields = [field for _, field, spec, conv in string.Formatter().parse(text) if field is not None]
        except ValueError as exc:
            raise SlaPolicyError(f"{here}: {exc} (a literal brace is written twice: {{{{ }}}})") from exc
        unknown = sorted({f for f in fields if f not in allowed})
        if unknown:
            raise SlaPolicyError(f"{here}: unknown placeholders {unknown}; use some of {list(allowed)}")
        texts[name] = text
    return texts


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _ladder(levels, where: str) -> tuple[LadderLevel, ...]:
    if not isinstance(levels, list) or not levels:
        raise SlaPolicyError(f"{where}: [[ladder]] levels are missing")
    ladder: list[LadderLevel] = []
    for n, entry in enumerate(levels, start=1):
        here = f"{where}: [[ladder]] number {n}"
        if not isinstance(entry, dict):
            raise SlaPolicyError(f"{here}: must be a table with level, at and audience")
        _only_keys(entry, {"level", "at", "audience"}, here)
        level, at, audience = entry.get("level"), entry.get("at"), entry.get("audience")
        if level not in LEVELS:
            raise SlaPolicyError(f"{here}: level {level!r} is not one of {list(LEVELS)}")
        if any(step.level == level for step in ladder):
            raise SlaPolicyError(f"{here}: level {level!r} appears twice")
        if isinstance(at, bool) or not isinstance(at, int | float) or at <= 0:
            raise SlaPolicyError(f"{here}: at must be a number of clock-lengths above 0, such as 0.75")
        if ladder and at <= ladder[-1].at:
            raise SlaPolicyError(f"{here}: at = {at} must come after the previous level's {ladder[-1].at}")
        if not isinstance(audience, list) or any(who not in AUDIENCES for who in audience):
            raise SlaPolicyError(f"{here}: audience must be a list of some of {list(AUDIENCES)}, not {audience!r}")
        ladder.append(LadderLevel(level, float(at), tuple(audience)))
    return tuple(ladder)


def _priorities(table: dict, where: str) -> tuple[dict[str, dict[str, ClockRule]], dict[str, ClockRule]]:
    _only_keys(table, set(PRIORITIES), f"{where}: [priority]")
    clocks: dict[str, dict[str, ClockRule]] = {}
    extensions: dict[str, ClockRule] = {}
    followers: dict[str, str] = {}
    for priority in PRIORITIES:
        here = f"{where}: [priority.{priority}]"
        entry = table.get(priority)
        if not isinstance(entry, dict):
            raise SlaPolicyError(f"{here} is missing")
        if "same_as" in entry:
            _only_keys(entry, {"same_as"}, here)
            followers[priority] = entry["same_as"]
            continue
        _only_keys(entry, {*CLOCKS, "max_extension"}, here)
        missing = [c for c in REQUIRED_CLOCKS if c not in entry]
        if missing:
            raise SlaPolicyError(f"{here}: clocks {missing} are missing")
        clocks[priority] = {c: _rule(entry[c], f"{here} {c}") for c in CLOCKS if c in entry}
        if "max_extension" in entry:
            extensions[priority] = _rule(entry["max_extension"], f"{here} max_extension")
    for priority, leader in followers.items():
        if leader not in clocks:
            raise SlaPolicyError(
                f"{where}: [priority.{priority}] same_as = {leader!r} must name a priority with its own clocks"
            )
        clocks[priority] = clocks[leader]
        if leader in extensions:
            extensions[priority] = extensions[leader]
    return {p: clocks[p] for p in PRIORITIES}, extensions


def _rule(value, where: str) -> ClockRule:
    units = [*CONTINUOUS_UNITS, *WORKING_UNITS]
    if not isinstance(value, dict) or len(value) != 1:
        raise SlaPolicyError(
            f"{where}: write one amount with its unit, such as {{ working_days = 5 }} or {{ hours = 1 }}"
        )
    ((unit, amount),) = value.items()
    if unit not in units:
        raise SlaPolicyError(f"{where}: unknown unit {unit!r}; use one of {units}")
    if not _is_positive_int(amount):
        raise SlaPolicyError(f"{where}: {unit} must be a whole number above 0, not {amount!r}")
    return ClockRule(unit, amount)


class CalendarSource:
    """The working calendar of one process: ``calendar.toml`` and the package, and the years admins entered.

    An admin saves a year in the database (``models.calendar``) from one web
    process, while every process -- each web worker, the scheduler -- keeps its
    calendar in memory. So :meth:`current` asks the database for the
    ``(year, updated_at)`` pairs of ``calendar_year`` (a handful of rows) at most
    every ``recheck_seconds``, when a deadline is computed, and reloads the
    entered days only when those pairs changed: the cost is one tiny query per
    process every few seconds, not one per deadline. The scheduler computes
    deadlines in every sweep, so a saved year is in use from the next sweep; a
    web process that saves calls :meth:`changed` after its commit and uses the
    year at once. The check runs on a connection of its own, never in the
    caller's transaction; when the database cannot answer (before the
    migrations, during an outage) the calendar in hand is kept and asked again
    at the next check.
    """

    def __init__(self, base: WorkingCalendar, recheck_seconds: float = 10.0):
        self.base = base
        self.recheck_seconds = recheck_seconds
        self._calendar = base
        self._signature: tuple | None = None
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> WorkingCalendar:
        if self._due():
            with self._lock:
                if self._due():
                    self._refresh()
        return self._calendar

    def _due(self) -> bool:
        return self._checked_at is None or monotonic() - self._checked_at >= self.recheck_seconds

    def changed(self) -> None:
        """A year was saved by this process: look again at the next use."""
        self._checked_at = None

    def _refresh(self) -> None:
        try:
            with db.engine.connect() as conn:
                signature = tuple(conn.execute(select(CalendarYear.year, CalendarYear.updated_at).order_by("year")))
                if signature != self._signature:
                    days = conn.execute(select(CalendarDay.year, CalendarDay.day, CalendarDay.kind)).all()
                    self._calendar = self.base.with_years(entered_years([y for y, _ in signature], days))
                    self._signature = signature
        except SQLAlchemyError as exc:
            logging.getLogger(__name__).warning("working calendar: entered years not read, keeping the last: %s", exc)
        self._checked_at = monotonic()


def entered_years(years, days) -> dict[int, YearOverride]:
    """The admins' years as complete overrides, from ``calendar_year`` years and ``(year, day, kind)`` rows."""
    holidays: dict[int, set] = {y: set() for y in years}
    workdays: dict[int, set] = {y: set() for y in years}
    for year, day, kind in days:
        if year in holidays:
            (holidays if kind == "holiday" else workdays)[year].add(day)
    return {y: YearOverride(frozenset(holidays[y]), frozenset(workdays[y]), complete=True) for y in years}


def init_sla(app: Flask) -> None:
    """Load ``sla.toml`` and ``calendar.toml`` from ``POLICY_DIR`` once; a malformed file stops start-up.

    The years admins entered in the database are read on first use (see :class:`CalendarSource`).
    """
    policy_dir = Path(app.config["POLICY_DIR"])
    policy = load_sla(policy_dir / "sla.toml")
    calendar = load_calendar(policy_dir / "calendar.toml", policy.office_periods)
    source = CalendarSource(calendar, app.config.get("CALENDAR_RECHECK_SECONDS", 10.0))
    app.extensions.setdefault("hotline_policy", {}).update(sla=policy, calendar_source=source)


def sla_policy() -> SlaPolicy:
    """The SLA policy of the current application."""
    return current_app.extensions["hotline_policy"]["sla"]


def working_calendar() -> WorkingCalendar:
    """The working calendar of the current application, with the years admins entered (checked every few seconds)."""
    return current_app.extensions["hotline_policy"]["calendar_source"].current()


def calendar_changed() -> None:
    """Call after committing a year of the working calendar: this process uses it from the next deadline on."""
    current_app.extensions["hotline_policy"]["calendar_source"].changed()


# --- deadlines and the ladder -----------------------------------------------------------------


def deadline(
    priority: str,
    clock: str,
    start: datetime,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> datetime:
    """When ``clock`` of a ``priority`` ticket, started at ``start``, is due (UTC).

    ``LookupError`` when the priority has no such clock (P2 has no ``advance_relief``).
    """
    policy = policy or sla_policy()
    return policy.rule(priority, clock).deadline(start, calendar or working_calendar())


def deadlines(
    priority: str,
    start: datetime,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> dict[str, datetime]:
    """Every clock of ``priority`` as if all started at ``start``: clock name -> deadline (UTC), in ``CLOCKS`` order."""
    policy = policy or sla_policy()
    calendar = calendar or working_calendar()
    return {clock: rule.deadline(start, calendar) for clock, rule in policy.clocks[priority].items()}


def extension_limit(
    priority: str,
    resolve_deadline: datetime,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> datetime | None:
    """The latest a resolve deadline may be extended to (延期), or None when ``sla.toml`` sets no limit."""
    policy = policy or sla_policy()
    rule = policy.max_extension.get(priority)
    return rule.deadline(resolve_deadline, calendar or working_calendar()) if rule else None


def ladder_steps(
    priority: str,
    clock: str,
    start: datetime,
    due: datetime,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> list[LadderStep]:
    """When each escalation level fires for ``clock``, started at ``start`` and due at ``due``.

    ``due`` is passed in because an approved extension moves it. A level at
    ``f`` clock-lengths fires ``f`` x (due - start) after the start, measured the
    way the clock counts: a working-time clock's length and steps are in working
    time, so a 督办 step never lands on a Sunday. The level at 1.0 is ``due``.
    """
    policy = policy or sla_policy()
    start, due = as_utc(start), as_utc(due)
    if policy.rule(priority, clock).mode == "continuous":
        length = due - start

        def advance(base: datetime, amount: timedelta) -> datetime:
            return base + amount
    else:
        calendar = calendar or working_calendar()
        length = calendar.working_time_between(start, due)
        advance = calendar.add_working_duration
    return [
        LadderStep(
            step.level,
            advance(start, length * step.at) if step.at <= 1 else advance(due, length * (step.at - 1)),
        )
        for step in policy.ladder
    ]


def calendar_warning(
    priority: str,
    start: datetime,
    due: Mapping[str, datetime],
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> str | None:
    """The warning to show beside ``due`` (from :func:`deadlines`) when a working-time clock counted
    through a year the calendar does not know (Monday–Friday fallback); None when the calendar knew it all."""
    policy = policy or sla_policy()
    calendar = calendar or working_calendar()
    working = [at for clock, at in due.items() if policy.rule(priority, clock).mode == "working"]
    if not working:
        return None
    years = calendar.unknown_years(to_local(as_utc(start)).date(), to_local(max(working)).date())
    return unknown_years_message(years) if years else None
