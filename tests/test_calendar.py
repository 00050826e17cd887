"""The working calendar: statutory holidays, 调休 days, office hours, the unknown-year fallback."""

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import ROOT
from hotline.escalation.calendar import (
    CalendarError,
    WorkingCalendar,
    load_calendar,
    load_overrides,
    office_periods,
)
from hotline.timeutil import LOCAL_TZ, local_date, to_local

POLICY = ROOT / "config" / "policy"
PERIODS = office_periods([["08:30", "12:00"], ["14:00", "17:30"]])
#: Built once for the property tests; tests that look at warnings build their own.
CALENDAR = load_calendar(POLICY / "calendar.toml", PERIODS)


def sh(text: str) -> datetime:
    """An Asia/Shanghai wall-clock time, as the UTC instant the calendar takes."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def wall(value: datetime) -> str:
    """An instant as Asia/Shanghai wall-clock text, the way people read a deadline."""
    return to_local(value).strftime("%Y-%m-%d %a %H:%M")


@pytest.fixture
def calendar_log(caplog, monkeypatch):
    """Capture the calendar's warnings.

    Alembic's ``fileConfig`` in ``migrations/env.py`` disables every logger that
    exists when a test upgrades the schema in-process, this one included.
    """
    monkeypatch.setattr(logging.getLogger("hotline.escalation.calendar"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="hotline.escalation.calendar")
    return caplog


def calendar_with(tmp_path, text: str) -> WorkingCalendar:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    return load_calendar(path, PERIODS)


# --- working days ------------------------------------------------------------------------------


def test_national_day_2025_is_off_and_its_make_up_saturday_is_worked():
    for day in range(1, 9):
        assert not CALENDAR.is_working_day(date(2025, 10, day))
    assert CALENDAR.is_working_day(date(2025, 9, 28))  # Sunday, 调休
    assert CALENDAR.is_working_day(date(2025, 10, 11))  # Saturday, 调休
    assert not CALENDAR.is_working_day(date(2025, 10, 12))
    assert CALENDAR.is_working_day(date(2025, 10, 9))


def test_spring_festival_2026_is_off_with_two_make_up_saturdays():
    for day in range(15, 24):
        assert not CALENDAR.is_working_day(date(2026, 2, day))
    assert CALENDAR.is_working_day(date(2026, 2, 14))
    assert CALENDAR.is_working_day(date(2026, 2, 28))
    assert CALENDAR.is_working_day(date(2026, 2, 24))


def test_shipped_override_file_changes_nothing_yet():
    assert load_overrides(POLICY / "calendar.toml") == {}


# --- working-time arithmetic -------------------------------------------------------------------


def test_working_day_clock_skips_the_national_day_holiday():
    assert wall(CALENDAR.add_working_time(sh("2025-09-30 16:00"), days=1)) == "2025-10-09 Thu 16:00"


def test_make_up_saturday_counts_as_a_working_day():
    assert wall(CALENDAR.add_working_time(sh("2025-10-10 16:00"), days=1)) == "2025-10-11 Sat 16:00"


def test_five_working_days_from_four_pm_end_at_four_pm_on_the_fifth_working_day():
    assert wall(CALENDAR.add_working_time(sh("2025-11-03 16:00"), days=5)) == "2025-11-10 Mon 16:00"


def test_working_hours_skip_lunch():
    assert wall(CALENDAR.add_working_time(sh("2025-11-03 11:00"), hours=2)) == "2025-11-03 Mon 15:00"


def test_four_working_hours_from_friday_afternoon_end_monday_morning():
    # 1.5 h on Friday (16:00-17:30), then 2.5 h from Monday 08:30.
    assert wall(CALENDAR.add_working_time(sh("2025-11-07 16:00"), hours=4)) == "2025-11-10 Mon 11:00"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2025-11-08 10:00", "2025-11-10 Mon 09:30"),  # Saturday
        ("2025-11-03 12:30", "2025-11-03 Mon 15:00"),  # lunch break
        ("2025-11-03 20:00", "2025-11-04 Tue 09:30"),  # evening
        ("2025-11-04 06:00", "2025-11-04 Tue 09:30"),  # before opening
        ("2025-11-03 17:30", "2025-11-04 Tue 09:30"),  # exactly at close
    ],
)
def test_a_start_outside_office_hours_counts_from_the_next_opening(start, expected):
    assert wall(CALENDAR.add_working_time(sh(start), hours=1)) == expected


def test_a_deadline_that_uses_up_a_period_is_its_close_not_the_next_opening():
    assert wall(CALENDAR.add_working_time(sh("2025-11-03 14:00"), hours=3.5)) == "2025-11-03 Mon 17:30"
    assert wall(CALENDAR.add_working_time(sh("2025-11-03 07:00"), days=1)) == "2025-11-03 Mon 17:30"


def test_year_end_counts_into_the_new_year_holiday_and_its_make_up_sunday():
    # 2026-01-01..03 off, Sunday 2026-01-04 worked.
    assert wall(CALENDAR.add_working_time(sh("2025-12-31 16:00"), days=1)) == "2026-01-04 Sun 16:00"
    assert wall(CALENDAR.add_working_time(sh("2025-12-31 16:00"), days=2)) == "2026-01-05 Mon 16:00"


def test_spring_festival_2026_working_days():
    # Saturday 02-14 worked, 02-15..23 off.
    assert wall(CALENDAR.add_working_time(sh("2026-02-13 16:00"), days=5)) == "2026-02-27 Fri 16:00"
    assert wall(CALENDAR.add_working_time(sh("2026-02-13 16:00"), hours=4)) == "2026-02-14 Sat 11:00"


def test_working_time_between_counts_only_office_hours():
    assert CALENDAR.working_time_between(sh("2025-11-07 16:00"), sh("2025-11-10 11:00")) == timedelta(hours=4)
    assert CALENDAR.working_time_between(sh("2025-09-30 12:00"), sh("2025-10-09 08:30")) == timedelta(hours=3.5)
    assert CALENDAR.working_time_between(sh("2025-11-10 11:00"), sh("2025-11-07 16:00")) == timedelta(0)


def test_end_of_working_day_is_the_close_of_the_next_working_day():
    assert wall(CALENDAR.end_of_working_day(sh("2025-09-30 10:00"))) == "2025-10-09 Thu 17:30"
    assert wall(CALENDAR.end_of_working_day(sh("2025-11-03 22:00"))) == "2025-11-04 Tue 17:30"
    assert wall(CALENDAR.end_of_working_day(sh("2025-11-08 10:00"), 2)) == "2025-11-11 Tue 17:30"


def test_negative_working_time_is_refused():
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_time(sh("2025-11-03 10:00"), hours=-1)


# --- a year nobody knows -----------------------------------------------------------------------


def test_unknown_year_counts_monday_to_friday_and_warns_once(calendar_log):
    calendar = load_calendar(POLICY / "calendar.toml", PERIODS)

    assert wall(calendar.add_working_time(sh("2031-01-03 16:00"), days=1)) == "2031-01-06 Mon 16:00"
    assert wall(calendar.add_working_time(sh("2031-01-03 16:00"), hours=4)) == "2031-01-06 Mon 11:00"
    assert calendar.is_working_day(date(2031, 1, 1))  # a Wednesday: no notice, so a working day

    warnings = [r for r in calendar_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2031" in warnings[0].getMessage()
    assert calendar.unknown_years_used() == {2031}
    assert calendar.unknown_years(date(2030, 12, 1), date(2032, 1, 1)) == [2030, 2031, 2032]
    assert not calendar.knows_year(2031)


def test_known_years_leave_no_warning(calendar_log):
    calendar = load_calendar(POLICY / "calendar.toml", PERIODS)
    calendar.add_working_time(sh("2025-12-31 16:00"), days=15)
    assert calendar.unknown_years_used() == frozenset()
    assert calendar_log.records == []


# --- the override file -------------------------------------------------------------------------


def test_override_file_adds_a_holiday_and_a_working_day_to_a_known_year(tmp_path):
    calendar = calendar_with(tmp_path, "[year.2025]\nholidays = [2025-10-10]\nworkdays = [2025-10-04]\n")
    assert not calendar.is_working_day(date(2025, 10, 10))
    assert calendar.is_working_day(date(2025, 10, 4))
    # Dates not listed still follow the package.
    assert not calendar.is_working_day(date(2025, 10, 3))
    assert calendar.is_working_day(date(2025, 10, 11))
    assert wall(calendar.add_working_time(sh("2025-10-09 16:00"), days=1)) == "2025-10-11 Sat 16:00"


def test_override_file_loads_a_year_the_package_does_not_know(tmp_path, calendar_log):
    calendar = calendar_with(tmp_path, "[year.2031]\nholidays = [2031-01-01]\nworkdays = [2031-01-04]\n")
    assert calendar.knows_year(2031)
    assert not calendar.is_working_day(date(2031, 1, 1))
    assert calendar.is_working_day(date(2031, 1, 4))  # a Saturday, worked
    assert wall(calendar.add_working_time(sh("2030-12-31 16:00"), days=1)) == "2031-01-02 Thu 16:00"
    assert calendar.unknown_years_used() == {2030}
    assert ["2030" in r.getMessage() for r in calendar_log.records] == [True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[year.2027]\nholidays = [2026-12-31]\n", "2026-12-31 is not in 2027"),
        ("[year.2027]\nholidays = ['2027-01-01']\n", "is not a date"),
        ("[year.2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]\n", "both as holiday and as working day"),
        ("[year.2027]\nholiday = [2027-01-01]\n", "unknown keys ['holiday']"),
        ("[year.27]\nholidays = [2027-01-01]\n", "four-digit year"),
        ("holidays = [2027-01-01]\n", "only [year.YYYY] tables"),
        ("[year.2027\n", "not valid TOML"),
    ],
)
def test_malformed_override_file_is_refused_at_load_naming_the_problem(tmp_path, text, message):
    with pytest.raises(CalendarError, match=r"calendar\.toml") as info:
        calendar_with(tmp_path, text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([["12:00", "08:30"]], "closes before it opens"),
        ([["08:30", "12:00"], ["11:00", "17:30"]], "starts before the previous one ends"),
        ([["8.30", "12:00"]], "HH:MM"),
        ([], "at least one"),
        (["08:30-12:00"], "pair of times"),
    ],
)
def test_malformed_office_periods_are_refused(pairs, message):
    with pytest.raises(CalendarError, match=message):
        office_periods(pairs)


# --- properties --------------------------------------------------------------------------------

#: 2025 to mid-2027: the National Day and Spring Festival holidays, and 2027, which
#: chinesecalendar 1.11.0 does not know (Monday-Friday fallback).
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC))
working_minutes = st.integers(min_value=1, max_value=25 * 7 * 60)
PROPERTY = settings(max_examples=200, deadline=None)


def in_working_time_or_at_a_close(at: datetime) -> bool:
    return CALENDAR.is_working_time(at) or any(close == at for _, close in CALENDAR.office_hours(local_date(at)))


@PROPERTY
@given(start=instants, minutes=working_minutes)
def test_working_deadline_is_after_the_start_and_inside_office_hours(start, minutes):
    due = CALENDAR.add_working_duration(start, timedelta(minutes=minutes))
    assert due > start
    assert in_working_time_or_at_a_close(due)
    assert CALENDAR.working_time_between(start, due) == timedelta(minutes=minutes)


@PROPERTY
@given(
    start=instants,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    minutes=working_minutes,
)
def test_a_later_start_never_gives_an_earlier_deadline(start, later_by, minutes):
    amount = timedelta(minutes=minutes)
    assert CALENDAR.add_working_duration(start + later_by, amount) >= CALENDAR.add_working_duration(start, amount)


@PROPERTY
@given(start=instants, minutes=working_minutes, more=st.integers(min_value=0, max_value=10 * 7 * 60))
def test_a_longer_clock_never_gives_an_earlier_deadline(start, minutes, more):
    shorter = CALENDAR.add_working_duration(start, timedelta(minutes=minutes))
    assert CALENDAR.add_working_duration(start, timedelta(minutes=minutes + more)) >= shorter


@PROPERTY
@given(start=instants, n=st.integers(min_value=1, max_value=5), more=st.integers(min_value=0, max_value=3))
def test_end_of_working_day_is_a_close_after_the_start_and_grows_with_n(start, n, more):
    due = CALENDAR.end_of_working_day(start, n)
    assert due > start
    assert in_working_time_or_at_a_close(due)
    assert CALENDAR.end_of_working_day(start, n + more) >= due
