"""Chinese working time (工作时间) and the arithmetic of working-time clocks.

Whether a date is a working day is decided, first match wins, by:

0. a year an admin entered on the working-calendar page (``models.calendar``,
   loaded by :mod:`hotline.escalation.sla`): its holidays and 调休 working days
   are the whole year's, and every other date of it follows its weekday;
1. ``config/policy/calendar.toml``, when its ``[year.YYYY]`` table lists the date
   (the county's corrections and the years published after the package);
2. the ``chinese-calendar`` package, for the years whose State Council holiday
   notices it carries (法定节假日 and 调休 make-up working days);
3. Monday to Friday. A year that neither 1 nor 2 knows never stops anything, but
   it is never silent either: the first use of each such year is logged as a
   warning and remembered in :meth:`WorkingCalendar.unknown_years_used`, so the
   manager's pages and the CLI can say that the year's calendar must be loaded.

Working time is the office periods (Asia/Shanghai) of working days. Arithmetic
counts only time inside them and answers the *earliest* instant at which the
amount has elapsed: a deadline is inside an office period or exactly at its
close (17:30 rather than the next morning's 08:30, the same point in working
time). A start outside office hours therefore starts counting at the next
opening, and N working days from 16:00 end at 16:00 on the Nth working day after.
"""

import logging
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar

from hotline.timeutil import LOCAL_TZ, to_local

log = logging.getLogger(__name__)

_PACKAGE_DATES = chinese_calendar.holidays.keys()
#: The years whose holiday notices the installed ``chinese-calendar`` carries.
PACKAGE_YEARS = range(min(_PACKAGE_DATES).year, max(_PACKAGE_DATES).year + 1)

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ZERO = timedelta(0)


class CalendarError(ValueError):
    """A malformed calendar file or office-hours definition; raised at load, never during arithmetic."""


#: From how long before a year the calendar must know it, unless ``calendar.toml`` sets
#: ``announce_days_ahead``: the State Council publishes the notice around November, and P3
#: deadlines set in December already count working days of January.
ANNOUNCE_AHEAD = timedelta(days=60)


@dataclass(frozen=True)
class YearOverride:
    """One ``[year.YYYY]`` table of ``calendar.toml``, or a year entered by an admin: days off, days worked.

    ``complete``: the lists are the whole year's notice (entered by an admin), so
    the package is not asked about the other dates; they follow their weekday.
    """

    holidays: frozenset[date]
    workdays: frozenset[date]
    complete: bool = False


def office_periods(pairs: Iterable) -> tuple[tuple[time, time], ...]:
    """Parse ``[["08:30", "12:00"], ["14:00", "17:30"]]``: in order, each opening before its close."""
    periods = []
    for pair in pairs:
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise CalendarError(f'each office period is a pair of times such as ["08:30", "12:00"], not {pair!r}')
        periods.append((_parse_hhmm(pair[0]), _parse_hhmm(pair[1])))
    return _checked_periods(periods)


def _checked_periods(periods: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    checked: list[tuple[time, time]] = []
    for opening, closing in periods:
        if opening >= closing:
            raise CalendarError(f"office period {opening:%H:%M}-{closing:%H:%M} closes before it opens")
        if checked and opening < checked[-1][1]:
            raise CalendarError(f"office period {opening:%H:%M}-{closing:%H:%M} starts before the previous one ends")
        checked.append((opening, closing))
    if not checked:
        raise CalendarError("at least one office period is needed")
    return tuple(checked)


def _parse_hhmm(text: str) -> time:
    match = _HHMM.fullmatch(text)
    if not match:
        raise CalendarError(f"{text!r} is not a time of day written HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"year", "announce_days_ahead"}
    if unknown:
        raise CalendarError(
            f"{path}: unknown keys {sorted(unknown)}; only [year.YYYY] tables and announce_days_ahead belong here"
        )
    return data


def load_announce_ahead(path: Path) -> timedelta:
    """``announce_days_ahead`` of ``calendar.toml``: from how many days before an unknown year people are warned."""
    days = _read(path).get("announce_days_ahead", ANNOUNCE_AHEAD.days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise CalendarError(f"{path}: announce_days_ahead must be a whole number of days from 1 to 366, not {days!r}")
    return timedelta(days=days)


def load_overrides(path: Path) -> dict[int, YearOverride]:
    """Read and check ``calendar.toml``; any mistake raises :class:`CalendarError` naming the file and key."""
    data = _read(path)
    overrides = {}
    for key, table in data.get("year", {}).items():
        where = f"{path}: [year.{key}]"
        if not re.fullmatch(r"\d{4}", key):
            raise CalendarError(f"{where}: the table name must be a four-digit year")
        if not isinstance(table, dict):
            raise CalendarError(f"{where}: must be a table with holidays = [...] and workdays = [...]")
        if set(table) - {"holidays", "workdays"}:
            raise CalendarError(f"{where}: unknown keys {sorted(set(table) - {'holidays', 'workdays'})}")
        year = int(key)
        holidays = _dates(table.get("holidays", []), year, f"{where} holidays")
        workdays = _dates(table.get("workdays", []), year, f"{where} workdays")
        if holidays & workdays:
            both = ", ".join(str(d) for d in sorted(holidays & workdays))
            raise CalendarError(f"{where}: {both} listed both as holiday and as working day")
        overrides[year] = YearOverride(holidays, workdays)
    return overrides


def _dates(values, year: int, where: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: must be a list of dates such as [{year}-01-01]")
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise CalendarError(f"{where}: {value!r} is not a date (write {year}-01-01, without quotes)")
        if value.year != year:
            raise CalendarError(f"{where}: {value} is not in {year}")
    return frozenset(values)


def unknown_years_message(years: Iterable[int]) -> str:
    """The warning shown when deadlines fell back to Monday–Friday for ``years``."""
    listed = ", ".join(str(y) for y in sorted(years))
    return (
        f"working calendar for {listed} is not loaded: deadlines count Monday-Friday working time; "
        f"enter the State Council holiday notice on the admin page /admin/calendar "
        f"(or in config/policy/calendar.toml, or upgrade chinesecalendar)"
    )


def years_to_announce(calendar: "WorkingCalendar", today: date) -> list[int]:
    """The years people must be warned about on ``today`` (a local date): this year if the calendar does not
    know it, and next year from :attr:`WorkingCalendar.announce_ahead` before its first day if it does not
    know that one."""
    years = [today.year]
    if today >= date(today.year + 1, 1, 1) - calendar.announce_ahead:
        years.append(today.year + 1)
    return [y for y in years if not calendar.knows_year(y)]


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is UTC, as everywhere in this project (see ``hotline.timeutil``)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class WorkingCalendar:
    """Working days and working-time arithmetic; built once per application (see ``hotline.escalation.sla``).

    Every method takes and returns aware datetimes (UTC out); none reads the clock.
    """

    def __init__(
        self,
        periods: Iterable[tuple[time, time]],
        overrides: Mapping[int, YearOverride] | None = None,
        announce_ahead: timedelta = ANNOUNCE_AHEAD,
    ):
        self.periods = _checked_periods(periods)
        self.overrides = dict(overrides or {})
        #: From how long before a year it does not know the calendar asks for that year's notice.
        self.announce_ahead = announce_ahead
        #: The working time in one working day (7 h for 08:30-12:00 and 14:00-17:30).
        self.day_length = sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a) for a, b in self.periods), _ZERO
        )
        self._unknown_used: set[int] = set()
        self._package_days: dict[date, bool] = {}

    # --- days -----------------------------------------------------------------------------

    def knows_year(self, year: int) -> bool:
        """True when the package, ``calendar.toml`` or an admin's entry has the holiday notice for ``year``."""
        return year in PACKAGE_YEARS or year in self.overrides

    def with_years(self, entered: Mapping[int, YearOverride]) -> "WorkingCalendar":
        """A new calendar with the same office periods where each year of ``entered`` replaces this one's."""
        return WorkingCalendar(self.periods, {**self.overrides, **entered}, self.announce_ahead)

    def unknown_years(self, first: date, last: date) -> list[int]:
        """The years from ``first`` to ``last`` (local dates) that fall back to Monday–Friday. Logs nothing."""
        return [y for y in range(first.year, last.year + 1) if not self.knows_year(y)]

    def unknown_years_used(self) -> frozenset[int]:
        """The years this calendar has had to count Monday–Friday for since it was built."""
        return frozenset(self._unknown_used)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a working day: statutory holidays off, 调休 days on."""
        override = self.overrides.get(day.year)
        if override is not None:
            if day in override.holidays:
                return False
            if day in override.workdays:
                return True
            if override.complete:
                return day.weekday() < 5
        if day.year in PACKAGE_YEARS:
            # chinese_calendar scans its tables on every call; a day's answer never changes.
            known = self._package_days.get(day)
            if known is None:
                known = self._package_days[day] = chinese_calendar.is_workday(day)
            return known
        if override is None and day.year not in self._unknown_used:
            self._unknown_used.add(day.year)
            log.warning(unknown_years_message([day.year]))
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    # --- time -----------------------------------------------------------------------------

    def office_hours(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office periods of ``day`` as (opening, close) UTC instants; empty on a day off."""
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, a, LOCAL_TZ).astimezone(UTC), datetime.combine(day, b, LOCAL_TZ).astimezone(UTC))
            for a, b in self.periods
        ]

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` is inside an office period of a working day (opening included, close excluded)."""
        at = as_utc(at)
        return any(opening <= at < close for opening, close in self.office_hours(to_local(at).date()))

    def _working_spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working time from ``start`` on, period by period, the first one clipped to begin at ``start``."""
        day = to_local(start).date()
        while True:
            for opening, close in self.office_hours(day):
                if close > start:
                    yield max(opening, start), close
            day += timedelta(days=1)

    def add_working_duration(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant at which ``amount`` of working time has passed since ``start``."""
        if amount < _ZERO:
            raise ValueError("working time cannot be negative")
        start = as_utc(start)
        if amount == _ZERO:
            return start
        spans = self._working_spans(start)
        while True:
            begin, close = next(spans)
            if amount <= close - begin:
                return begin + amount
            amount -= close - begin

    def add_working_time(self, start: datetime, *, days: float = 0, hours: float = 0) -> datetime:
        """``start`` plus working days and/or hours; one working day is :attr:`day_length` of working time.

        4 working hours from Friday 16:00 end on Monday 11:00 (1.5 h on Friday, 2.5 h from 08:30);
        5 working days from 16:00 end at 16:00 on the fifth working day after.
        """
        return self.add_working_duration(start, days * self.day_length + timedelta(hours=hours))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between ``start`` and ``end`` (zero when ``end`` is not later)."""
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return _ZERO
        total = _ZERO
        spans = self._working_spans(start)
        while True:
            begin, close = next(spans)
            if begin >= end:
                return total
            total += min(close, end) - begin

    def end_of_working_day(self, start: datetime, n: int = 1) -> datetime:
        """The close of office on the ``n``-th working day after ``start``'s local date (回访 the next working day)."""
        if n < 1:
            raise ValueError("n counts working days after the start's date, from 1")
        day = to_local(as_utc(start)).date()
        for _ in range(n):
            day = self.next_working_day(day)
        return self.office_hours(day)[-1][1]


def load_calendar(path: Path, periods: Iterable[tuple[time, time]]) -> WorkingCalendar:
    """The working calendar from ``calendar.toml`` and the office periods of ``sla.toml``."""
    return WorkingCalendar(periods, load_overrides(path), load_announce_ahead(path))
