"""Service clocks from sla.toml: defaults, deadlines per priority, the ladder, the CLI, a bad file."""

import json
import shutil
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import ROOT
from hotline import create_app
from hotline.escalation.calendar import load_calendar, unknown_years_message
from hotline.escalation.sla import (
    ClockRule,
    SlaPolicyError,
    calendar_warning,
    deadline,
    deadlines,
    extension_limit,
    ladder_steps,
    load_sla,
    sla_policy,
    working_calendar,
)
from hotline.timeutil import LOCAL_TZ, local_date, to_local
from models.ticket import PRIORITIES
from tests.conftest import app_config

POLICY = ROOT / "config" / "policy"
SLA = load_sla(POLICY / "sla.toml")
CALENDAR = load_calendar(POLICY / "calendar.toml", SLA.office_periods)


def sh(text: str) -> datetime:
    """An Asia/Shanghai wall-clock time, as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def wall(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %a %H:%M")


def due(priority: str, start: datetime) -> dict[str, str]:
    return {clock: wall(at) for clock, at in deadlines(priority, start, CALENDAR, SLA).items()}


# --- the shipped policy ------------------------------------------------------------------------


def test_shipped_policy_has_the_county_defaults():
    assert SLA.rule("P1", "dispatch") == ClockRule("minutes", 30)
    assert SLA.rule("P1", "acknowledge") == ClockRule("hours", 1)
    assert SLA.rule("P1", "resolve") == ClockRule("days", 3)
    assert SLA.rule("P1", "paperwork") == ClockRule("days", 5)
    assert SLA.rule("P2", "acknowledge") == ClockRule("working_hours", 4)
    assert SLA.rule("P2", "resolve") == ClockRule("working_days", 15)
    assert SLA.rule("P3", "first_contact") == ClockRule("working_days", 3)
    assert SLA.rule("P3", "callback") == ClockRule("end_of_working_day", 1)
    assert SLA.max_extension == {"P3": ClockRule("working_days", 10)}
    assert [(step.level, step.at) for step in SLA.ladder] == [
        ("warn", 0.75),
        ("urge", 1.0),
        ("supervise", 2.0),
        ("case_conference", 3.0),
    ]
    assert SLA.advance_relief_limit_yuan == 3000
    assert SLA.office_periods == ((time(8, 30), time(12)), (time(14), time(17, 30)))


def test_every_ticket_priority_has_clocks_and_p0_follows_p1():
    assert tuple(SLA.clocks) == PRIORITIES
    assert SLA.clocks["P0"] == SLA.clocks["P1"]
    assert {rule.mode for p in ("P0", "P1") for rule in SLA.clocks[p].values()} == {"continuous"}
    assert {rule.mode for p in ("P2", "P3") for rule in SLA.clocks[p].values()} == {"working"}


def test_the_app_loads_the_policy_once(app):
    assert sla_policy() == SLA
    assert working_calendar() is working_calendar()
    assert wall(deadline("P2", "acknowledge", sh("2025-11-07 16:00"))) == "2025-11-10 Mon 11:00"


# --- deadlines ---------------------------------------------------------------------------------


def test_p1_clocks_run_straight_through_the_national_day_holiday():
    assert due("P1", sh("2025-09-30 16:00")) == {
        "dispatch": "2025-09-30 Tue 16:30",
        "acknowledge": "2025-09-30 Tue 17:00",
        "first_contact": "2025-10-01 Wed 16:00",
        "advance_relief": "2025-10-01 Wed 16:00",
        "resolve": "2025-10-03 Fri 16:00",
        "paperwork": "2025-10-05 Sun 16:00",
        "return_review": "2025-10-02 Thu 16:00",
        "callback": "2025-10-01 Wed 16:00",
        "close": "2025-10-01 Wed 16:00",
    }


def test_p0_is_followed_up_on_p1_clocks():
    start = sh("2026-02-16 03:10")
    assert deadlines("P0", start, CALENDAR, SLA) == deadlines("P1", start, CALENDAR, SLA)


def test_p2_clocks_wait_out_the_national_day_holiday():
    assert due("P2", sh("2025-09-30 16:00")) == {
        "dispatch": "2025-10-09 Thu 16:00",
        "acknowledge": "2025-10-09 Thu 11:00",
        "first_contact": "2025-10-09 Thu 16:00",
        "resolve": "2025-10-28 Tue 16:00",
        "return_review": "2025-10-10 Fri 16:00",
        "callback": "2025-10-09 Thu 17:30",
        "close": "2025-10-09 Thu 17:30",
        # 5 working days: Saturday 10-11 is a 调休 working day.
        "pause_review": "2025-10-14 Tue 16:00",
    }


def test_p3_clocks_across_the_year_end_and_spring_festival():
    assert due("P3", sh("2025-12-31 16:00"))["acknowledge"] == "2026-01-04 Sun 16:00"
    assert due("P3", sh("2026-02-13 16:00")) == {
        "dispatch": "2026-02-25 Wed 16:00",
        "acknowledge": "2026-02-14 Sat 16:00",
        "first_contact": "2026-02-25 Wed 16:00",
        "resolve": "2026-02-27 Fri 16:00",
        "return_review": "2026-02-24 Tue 16:00",
        "callback": "2026-02-14 Sat 17:30",
        "close": "2026-02-14 Sat 17:30",
        "pause_review": "2026-03-05 Thu 16:00",
    }


def test_a_p3_call_on_saturday_night_is_due_from_monday_morning():
    assert due("P3", sh("2025-11-08 22:00"))["acknowledge"] == "2025-11-10 Mon 17:30"


def test_a_clock_the_priority_does_not_have_is_a_lookup_error():
    with pytest.raises(LookupError, match="advance_relief"):
        deadline("P2", "advance_relief", sh("2025-11-03 10:00"), CALENDAR, SLA)


def test_p3_resolve_may_be_extended_by_ten_working_days_and_p2_has_no_limit():
    resolve = deadline("P3", "resolve", sh("2025-09-26 16:00"), CALENDAR, SLA)
    assert wall(resolve) == "2025-10-10 Fri 16:00"
    assert wall(extension_limit("P3", resolve, CALENDAR, SLA)) == "2025-10-23 Thu 16:00"
    assert extension_limit("P2", resolve, CALENDAR, SLA) is None


# --- the ladder --------------------------------------------------------------------------------


def test_ladder_of_a_continuous_clock_counts_wall_time():
    start = sh("2025-10-01 10:00")
    steps = ladder_steps("P1", "acknowledge", start, start + timedelta(hours=1), CALENDAR, SLA)
    assert [(s.level, wall(s.at)) for s in steps] == [
        ("warn", "2025-10-01 Wed 10:45"),
        ("urge", "2025-10-01 Wed 11:00"),
        ("supervise", "2025-10-01 Wed 12:00"),
        ("case_conference", "2025-10-01 Wed 13:00"),
    ]


def test_ladder_of_a_working_clock_counts_working_time():
    start = sh("2025-11-07 16:00")
    due_at = deadline("P2", "acknowledge", start, CALENDAR, SLA)
    steps = ladder_steps("P2", "acknowledge", start, due_at, CALENDAR, SLA)
    assert [(s.level, wall(s.at)) for s in steps] == [
        ("warn", "2025-11-10 Mon 10:00"),  # 3 of 4 working hours
        ("urge", "2025-11-10 Mon 11:00"),  # the deadline
        ("supervise", "2025-11-10 Mon 17:00"),  # 4 working hours later, over lunch
        ("case_conference", "2025-11-11 Tue 12:00"),  # 4 more: the close of Tuesday morning
    ]


def test_ladder_follows_a_deadline_moved_by_an_extension():
    start = sh("2025-11-03 16:00")
    extended = sh("2025-11-17 16:00")  # 10 working days instead of 5
    steps = ladder_steps("P3", "resolve", start, extended, CALENDAR, SLA)
    assert [(s.level, wall(s.at)) for s in steps] == [
        ("warn", "2025-11-13 Thu 10:30"),  # 7.5 of 10 working days
        ("urge", "2025-11-17 Mon 16:00"),
        ("supervise", "2025-12-01 Mon 16:00"),
        ("case_conference", "2025-12-15 Mon 16:00"),
    ]


# --- the calendar warning ----------------------------------------------------------------------


def test_calendar_warning_only_when_a_working_clock_crossed_an_unknown_year():
    start = sh("2031-01-03 16:00")
    assert calendar_warning("P2", start, deadlines("P2", start, CALENDAR, SLA), CALENDAR, SLA) == (
        unknown_years_message([2031])
    )
    assert calendar_warning("P1", start, deadlines("P1", start, CALENDAR, SLA), CALENDAR, SLA) is None
    known = sh("2025-12-31 16:00")
    assert calendar_warning("P3", known, deadlines("P3", known, CALENDAR, SLA), CALENDAR, SLA) is None


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_prints_each_deadline_in_shanghai_time(runner):
    result = runner.invoke(args=["hotline", "sla", "due", "--priority", "P2", "--from", "2025-09-30T16:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "acknowledge": "2025-10-09T11:00:00+08:00",
        "first_contact": "2025-10-09T16:00:00+08:00",
        "resolve": "2025-10-28T16:00:00+08:00",
        "return_review": "2025-10-10T16:00:00+08:00",
        "callback": "2025-10-09T17:30:00+08:00",
        "dispatch": "2025-10-09T16:00:00+08:00",
        "close": "2025-10-09T17:30:00+08:00",
        "pause_review": "2025-10-14T16:00:00+08:00",
    }


def test_cli_takes_utc_input_and_prints_p1_clocks(runner):
    result = runner.invoke(args=["hotline", "sla", "due", "--priority", "p1", "--from", "2025-09-30T08:00:00Z"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["dispatch"] == "2025-09-30T16:30:00+08:00"
    assert printed["paperwork"] == "2025-10-05T16:00:00+08:00"
    assert "calendar_warning" not in printed


def test_cli_warns_when_the_year_is_not_loaded(runner):
    result = runner.invoke(args=["hotline", "sla", "due", "--priority", "P3", "--from", "2031-01-03T16:00:00"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["acknowledge"] == "2031-01-06T16:00:00+08:00"
    assert printed["resolve"] == "2031-01-10T16:00:00+08:00"
    assert "2031" in printed["calendar_warning"]


def test_cli_refuses_an_unreadable_start(runner):
    result = runner.invoke(args=["hotline", "sla", "due", "--priority", "P2", "--from", "next tuesday"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


# --- a malformed sla.toml ----------------------------------------------------------------------

SHIPPED = (POLICY / "sla.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{ working_hours = 4 }", "{ working_hourz = 4 }", "[priority.P2] acknowledge: unknown unit 'working_hourz'"),
        ("{ days = 3 }", "{ days = -3 }", "[priority.P1] resolve: days must be a whole number above 0"),
        ("{ days = 3 }", "{ days = 2.5 }", "days must be a whole number above 0"),
        ("{ days = 3 }", "{ days = 3, hours = 2 }", "write one amount with its unit"),
        ("dispatch = ", "dispach = ", "unknown keys ['dispach']"),
        ('same_as = "P1"', 'same_as = "P9"', "same_as = 'P9' must name a priority"),
        ("[priority.P3]", "[priority.P4]", "unknown keys ['P4']"),
        ("callback = { end_of_working_day = 1 }\n", "\n", "[priority.P2]: clocks ['callback'] are missing"),
        ("at = 2.0", "at = 0.5", "must come after"),
        ('level = "supervise"', 'level = "supervize"', "level 'supervize' is not one of"),
        ('["14:00", "17:30"]', '["14:00", "11:30"]', "closes before it opens"),
        ("township_limit_yuan = 3000", 'township_limit_yuan = "3000"', "township_limit_yuan must be"),
        ("periods = [[", "periods = [", "not valid TOML"),
    ],
)
def test_malformed_sla_file_is_refused_at_load_with_a_clear_message(tmp_path, old, new, message):
    assert old in SHIPPED
    path = tmp_path / "sla.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SlaPolicyError) as info:
        load_sla(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_the_app_does_not_start_with_a_malformed_sla_file(tmp_path, database_url):
    shutil.copytree(POLICY, tmp_path, dirs_exist_ok=True)  # every other policy file as shipped
    (tmp_path / "sla.toml").write_text(SHIPPED.replace("{ hours = 1 }", "{ hours = 0 }"), encoding="utf-8")
    with pytest.raises(SlaPolicyError, match="acknowledge: hours must be a whole number above 0"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path})


# --- properties --------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC))
clocks = st.sampled_from([(p, c) for p in PRIORITIES for c in SLA.clocks[p]])
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(clock=clocks, start=instants, later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_deadlines_never_move_backwards(clock, start, later_by):
    priority, name = clock
    first = deadline(priority, name, start, CALENDAR, SLA)
    assert first >= start
    assert deadline(priority, name, start + later_by, CALENDAR, SLA) >= first


@PROPERTY
@given(
    unit=st.sampled_from(["minutes", "hours", "days", "working_hours", "working_days", "end_of_working_day"]),
    amount=st.integers(min_value=1, max_value=30),
    more=st.integers(min_value=0, max_value=30),
    start=instants,
)
def test_a_longer_clock_is_never_due_earlier(unit, amount, more, start):
    shorter = ClockRule(unit, amount).deadline(start, CALENDAR)
    assert ClockRule(unit, amount + more).deadline(start, CALENDAR) >= shorter >= start


@PROPERTY
@given(clock=clocks, start=instants)
def test_working_clocks_fall_due_in_office_hours_or_at_a_close(clock, start):
    priority, name = clock
    if SLA.rule(priority, name).mode != "working":
        return
    at = deadline(priority, name, start, CALENDAR, SLA)
    closes = [close for _, close in CALENDAR.office_hours(local_date(at))]
    assert CALENDAR.is_working_time(at) or at in closes


@PROPERTY
@given(clock=clocks, start=instants)
def test_ladder_steps_are_in_order_and_urge_at_the_deadline(clock, start):
    priority, name = clock
    due_at = deadline(priority, name, start, CALENDAR, SLA)
    steps = ladder_steps(priority, name, start, due_at, CALENDAR, SLA)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert steps[0].at >= start
    assert dict((s.level, s.at) for s in steps)["urge"] == due_at
