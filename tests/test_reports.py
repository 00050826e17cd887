"""Reports: every figure, percentile and list against a hand-built history whose answers are known.

The history spans the 2025 National Day holiday (2025-10-01..08) and the make-up
working Saturday 2025-10-11, so the P2/P3 working-time clocks are checked across
both. It has a return and a redispatch, an approved extension, a ticket passed
on from a township to a village, a reopened ticket, a merged duplicate, missed
and answered calls, advance relief granted and ruled out, and tickets either
side of the period's local-midnight edges. Every number below was worked out
by hand from the README's definitions; the same test runs on PostgreSQL when
``TEST_DATABASE_URL`` names one.
"""

import csv
import io
import random
import statistics
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import Float, Integer, String, cast, func, literal, select, union_all

from hotline import access
from hotline.extensions import db
from hotline.intake import intake
from hotline.intake.service import InboundCall, leg_status, mark_missed, start_call
from hotline.referrals import service as referrals
from hotline.relief import service as relief
from hotline.reports import dialect
from hotline.reports import service as reports
from hotline.reports import views as report_views
from hotline.reports.service import Filters, Period, Scope
from hotline.tickets import service as tickets
from hotline.timeutil import LOCAL_TZ
from models.audit import AuditLog
from models.interaction import Interaction
from models.referral import Referral
from models.ticket import Ticket
from models.types import UTCDateTime

PERIOD = Period(date(2025, 9, 29), date(2025, 10, 12))
#: As of Monday 2025-10-20 12:00 in Asia/Shanghai.
NOW = datetime(2025, 10, 20, 4, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A 2025 local (Asia/Shanghai) time, as the aware UTC instant the services take."""
    return datetime(2025, month, day, hour, minute, second, tzinfo=LOCAL_TZ).astimezone(UTC)


def call(sid: str, phone: str, started: datetime, *, answered: datetime | None = None, missed: datetime | None = None):
    """A call that reached the line (Twilio webhooks): answered by an operator, or missed."""
    start_call(InboundCall(sid=sid, from_number=phone, to_number="+8610012345"), now=started)
    if answered is not None:
        leg_status(sid, "in-progress", duty_line_id=None, at=answered)
        db.session.commit()
        return None
    ticket = mark_missed(sid, now=missed, policy=intake().policy)
    db.session.commit()
    return ticket


@pytest.fixture
def history(app, operator, manager, make_department, make_user):
    """The hand-built history; returns the tickets (T1..T10), referrals (R1..R6) and units by name."""
    civil = make_department("civil_affairs", "县民政局", "bureau", "county")
    medins = make_department("medical_insurance", "县医疗保障局", "bureau", "county")
    town = make_department("town_hekou", "河口乡", "township", "township")
    village = make_department("village_hekou", "河口村", "village", "village", parent=town)
    civil_staff = make_user("department", department=civil)
    make_user("department", department=medins)
    town_staff = make_user("department", username="town_staff", department=town)
    village_staff = make_user("department", department=village)
    op, mgr = operator, manager
    t, r = {}, {}

    def log(number, when, phone, priority, category, **kw):
        ticket = tickets.log_call(
            actor=op, now=when, phone=phone, category=category, priority=priority, summary=f"case {number}", **kw
        )
        db.session.flush()
        t[number] = ticket
        return ticket

    def set_township(ticket, unit):
        ticket.contact.township_id = unit.id

    # T1: P1 call, referred to 民政局 in 20 min, relief in 6 h, resolved, called back (5), paperwork late.
    log("T1", at(9, 29, 10), "13800000001", "P1", "illness_hardship")
    set_township(t["T1"], town)
    r["R1"] = referrals.dispatch_referral(t["T1"], department=civil, role="lead", actor=op, now=at(9, 29, 10, 20))
    referrals.acknowledge(r["R1"], actor=civil_staff, now=at(9, 29, 10, 50))
    granted = relief.grant_relief(
        t["T1"],
        actor=op,
        now=at(9, 29, 16),
        kind="temporary_assistance",
        amount_yuan="2000",
        granting_unit=civil,
        reason="住院押金",
    )
    relief.record_payment(granted, actor=op, now=at(9, 29, 17), amount_yuan="2000", note="一次发放")
    referrals.resolve(r["R1"], actor=civil_staff, now=at(10, 1, 9), result="已发放临时救助", outcome="relief_granted")
    tickets.record_callback(t["T1"], actor=op, now=at(10, 1, 15), reached=True, satisfaction=5)
    tickets.close_ticket(t["T1"], actor=op, now=at(10, 1, 15, 10))
    relief.complete_paperwork(t["T1"], actor=mgr, now=at(10, 6, 10), note="材料已线下核验")
    db.session.commit()

    # T2: P2 text message the day before the holiday; first contact by the township after it (late);
    # acknowledged late, returned, redispatched to 医保局, which never acknowledges.
    t["T2"] = tickets.open_unclaimed_ticket(
        now=at(9, 30, 16), channel="sms", phone="13800000002", summary="低保", category="subsistence", priority="P2"
    )
    db.session.flush()
    set_township(t["T2"], town)
    tickets.take_ticket(t["T2"], actor=op, now=at(10, 9, 9))
    tickets.record_callback(t["T2"], actor=op, now=at(10, 9, 9, 5), reached=False)
    r["R2"] = referrals.dispatch_referral(t["T2"], department=town, role="lead", actor=op, now=at(10, 9, 9, 30))
    referrals.acknowledge(r["R2"], actor=town_staff, now=at(10, 9, 16))
    referrals.add_progress(r["R2"], actor=town_staff, now=at(10, 9, 16, 30), text="已电话联系", contacted=True)
    referrals.request_return(
        r["R2"], actor=town_staff, now=at(10, 10, 10), reason="not_our_remit", comment="属医保报销问题"
    )
    r["R3"] = referrals.decide_return(
        r["R2"], actor=op, now=at(10, 10, 11), accept=True, comment="改派医保局", redispatch_to=medins
    )
    db.session.commit()

    # T3: P3 answered on the call; called back late (3), closed, reopened, answered again,
    # called back on the make-up Saturday (4).
    log("T3", at(9, 29, 11), "13800000003", "P3", "policy_enquiry", answered_on_call=True, answer="告知材料")
    tickets.record_callback(t["T3"], actor=op, now=at(10, 9, 10), reached=True, satisfaction=3)
    tickets.close_ticket(t["T3"], actor=op, now=at(10, 9, 10, 5))
    tickets.reopen_ticket(t["T3"], actor=op, now=at(10, 10, 9), reason="仍未办成")
    tickets.resolve_directly(t["T3"], actor=op, now=at(10, 10, 10), answer="再次告知并联系村委")
    tickets.record_callback(t["T3"], actor=op, now=at(10, 11, 11), reached=True, satisfaction=4)
    tickets.close_ticket(t["T3"], actor=op, now=at(10, 11, 11, 5))
    db.session.commit()

    # T4: P3 call with a repeat call; 民政局 acknowledges on the make-up Saturday, gets an extension,
    # resolves within it; not yet called back.
    log("T4", at(10, 10, 14), "13800000004", "P3", "other")
    r["R4"] = referrals.dispatch_referral(t["T4"], department=civil, role="lead", actor=op, now=at(10, 10, 14, 30))
    tickets.log_repeat_call(t["T4"], actor=op, now=at(10, 10, 15))
    referrals.acknowledge(r["R4"], actor=civil_staff, now=at(10, 11, 9))
    referrals.request_extension(
        r["R4"], actor=civil_staff, now=at(10, 13, 10), reason="需入户核实", until=at(10, 22, 17, 30)
    )
    referrals.decide_extension(r["R4"], actor=mgr, now=at(10, 13, 11), approve=True)
    referrals.resolve(r["R4"], actor=civil_staff, now=at(10, 17, 10), result="已核实并答复", outcome="other")
    db.session.commit()

    # T5: P1 found proactively; relief ruled out; dispatched late; the township passes it on to a
    # village, which acknowledges late, contacts the person and resolves; called back (2).
    t["T5"] = tickets.open_unclaimed_ticket(
        now=at(10, 11, 20),
        channel="proactive",
        phone="13800000005",
        summary="独居老人",
        category="elderly_alone",
        priority="P1",
    )
    db.session.flush()
    set_township(t["T5"], town)
    tickets.take_ticket(t["T5"], actor=op, now=at(10, 11, 20, 10))
    r["R5"] = referrals.dispatch_referral(t["T5"], department=town, role="lead", actor=op, now=at(10, 11, 20, 40))
    relief.relief_not_needed(t["T5"], actor=op, now=at(10, 11, 22), reason="子女已到场")
    referrals.acknowledge(r["R5"], actor=town_staff, now=at(10, 11, 21))
    r["R6"] = referrals.pass_on(r["R5"], actor=town_staff, now=at(10, 11, 21, 10), department=village)
    referrals.acknowledge(r["R6"], actor=village_staff, now=at(10, 12, 8))
    referrals.add_progress(r["R6"], actor=village_staff, now=at(10, 12, 9), text="已入户", contacted=True)
    referrals.resolve(r["R6"], actor=village_staff, now=at(10, 13, 9), result="已安排照护", outcome="other")
    tickets.record_callback(t["T5"], actor=op, now=at(10, 13, 18), reached=True, satisfaction=2)
    tickets.close_ticket(t["T5"], actor=op, now=at(10, 13, 18, 5))
    db.session.commit()

    # T8: just inside the period (00:10 local on its first day is still 09-28 in UTC);
    # T7: just after it (00:30 local on 10-13 is 10-12 in UTC). T6: a duplicate merged into T8.
    log("T8", at(9, 29, 0, 10), "13800000008", "P3", "other")
    log("T7", at(10, 13, 0, 30), "13800000007", "P3", "other")
    log("T6", at(10, 2, 10), "13800000006", "P2", "housing")
    tickets.merge_ticket(t["T6"], actor=op, now=at(10, 2, 10, 10), target=t["T8"], reason="重复")
    db.session.commit()

    # Calls that reached the line: answered in 10 s and in 25 s; missed and called back in 20 minutes
    # (T9, closed); missed and never called back (T10, relief granted by a manager, paperwork overdue).
    call("CA1", "13900000001", at(10, 1, 8), answered=at(10, 1, 8, 0, 10))
    call("CA2", "13900000002", at(10, 1, 9), answered=at(10, 1, 9, 0, 25))
    t["T9"] = call("CA3", "13900000003", at(10, 2, 10), missed=at(10, 2, 10, 0, 30))
    tickets.take_ticket(t["T9"], actor=op, now=at(10, 2, 10, 10, 30))
    tickets.record_callback(t["T9"], actor=op, now=at(10, 2, 10, 20, 30), reached=False)
    tickets.close_ticket(t["T9"], actor=op, now=at(10, 2, 10, 25, 30), resolution="回拨无人接听，已短信告知")
    db.session.commit()
    t["T10"] = call("CA4", "13900000004", at(10, 3, 12), missed=at(10, 3, 12, 0, 30))
    relief.grant_relief(
        t["T10"],
        actor=mgr,
        now=at(10, 4, 11),
        kind="temporary_assistance",
        amount_yuan="1000",
        granting_unit=town,
        reason="先行救助",
    )
    db.session.commit()
    call("CA5", "13900000005", at(10, 13, 9), answered=at(10, 13, 9, 0, 5))  # after the period
    db.session.commit()
    return {
        "t": t,
        "r": r,
        "units": {"civil": civil, "medins": medins, "town": town, "village": village},
        "town_staff": town_staff,
    }


def _numbers(stmt) -> set[str]:
    return {obj.number for obj in db.session.scalars(stmt)}


def _ids(stmt) -> set[int]:
    return {obj.id for obj in db.session.scalars(stmt)}


# --- the clocks behind the history ------------------------------------------------------------


def test_history_deadlines_count_working_time_across_the_national_day_holiday(history):
    t, r = history["t"], history["r"]
    # 1 working day from Tuesday 16:00 before the holiday: 1.5 h that day, 5.5 h on Thursday 10-09.
    assert t["T2"].first_contact_due_at == at(10, 9, 16)
    assert r["R2"].acknowledge_due_at == at(10, 9, 15, 30)
    # The make-up working Saturday 2025-10-11 counts.
    assert r["R4"].acknowledge_due_at == at(10, 11, 14, 30)
    assert t["T3"].callback_due_at == at(10, 11, 17, 30)
    assert r["R4"].resolve_due_at == at(10, 22, 17, 30)  # moved by the approved extension
    assert t["T1"].paperwork_due_at == at(10, 4, 16)


# --- the figures ------------------------------------------------------------------------------


EXPECTED_FIGURES = {
    "answer_rate": (2, 4),
    "answered_on_call": (1, 8),
    "acknowledged_on_time": (3, 6),
    "return_rate": (1, 6),
    "resolved_on_time": (4, 4),
    "advance_relief_on_time": (3, 3),
    "paperwork_on_time": (0, 2),
    "referrals_closed": (3, 4),
    "callback_rate": (3, 5),
    "satisfaction": (2, 3),
    "repeat_callers": (1, 8),
    "proactive_share": (1, 8),
}


def test_every_figure_of_the_period(history):
    found = {rate.figure.key: (rate.numerator, rate.denominator) for rate in reports.figures(PERIOD, Scope(), NOW)}
    # A ticket an operator logged counts as reviewed then: confirmed when the operator chose triage's priority
    # and category (what triage says of each text is the triage module's test); the others are not reviewed.
    tickets = [t for t in db.session.scalars(select(Ticket)) if PERIOD.start <= t.created_at < PERIOD.end]
    counted = [t for t in tickets if t.status != "merged" and t.triage_verdict is not None]
    assert len(counted) == 4
    assert found.pop("triage_right") == (sum(t.triage_verdict == "confirmed" for t in counted), len(counted))
    assert found == EXPECTED_FIGURES


def test_rates_are_numerator_over_denominator(history):
    rates = {rate.figure.key: rate for rate in reports.figures(PERIOD, Scope(), NOW)}
    assert rates["answer_rate"].percent == 50.0
    assert rates["satisfaction"].percent == pytest.approx(200 / 3)
    assert rates["paperwork_on_time"].percent == 0.0


def test_compliance_of_every_clock(history):
    assert reports.clock_compliance(PERIOD, Scope(), NOW) == {
        "answer": {"on_time": 2, "late": 2, "pending": 0},
        # P1: T1 on time, T5 and T10 late, T9 closed before its deadline (pending). The hotline's own clock
        # runs for P2/P3 too: T2 (due 10-09 16:00, referred 09:30) and T4 on time, T8 never referred (late),
        # T3 answered on the call, reopened and answered again within its new run (on time).
        "dispatch": {"on_time": 4, "late": 3, "pending": 1},
        "acknowledge": {"on_time": 3, "late": 3, "pending": 0},
        "first_contact": {"on_time": 1, "late": 2, "pending": 1},
        "advance_relief": {"on_time": 3, "late": 0, "pending": 1},
        "resolve": {"on_time": 4, "late": 0, "pending": 2},
        "paperwork": {"on_time": 0, "late": 2, "pending": 0},
        "callback": {"on_time": 3, "late": 0, "pending": 1},
    }


def test_new_tickets_by_channel_count_local_days(history):
    # T8 (00:10 local on the first day) is in, T7 (00:30 local the day after the last) is out, T6 merged.
    assert reports.tickets_by_channel(PERIOD, Scope(), NOW) == {"voice": 6, "sms": 1, "proactive": 1}
    trend = {d["day"]: (d["tickets"], d["urgent"]) for d in reports.daily_trend(PERIOD, Scope(), NOW)}
    assert len(trend) == 14
    assert trend["2025-09-29"] == (3, 1)  # T8, T1 (P1), T3
    assert trend["2025-10-12"] == (0, 0)
    assert sum(n for n, _u in trend.values()) == 8


def test_time_to_advance_relief_histogram(history):
    bars = {(b["low"], b["high"]): b["count"] for b in reports.relief_histogram(PERIOD, Scope(), NOW)}
    assert bars[(6, 12)] == 1  # T1: 6 h
    assert bars[(12, 24)] == 1  # T10: 22 h 59 min 30 s
    assert sum(bars.values()) == 2


# --- response times: exact percentiles --------------------------------------------------------


def _table(tables, key):
    return next(t for t in tables if t.measure.key == key)


def _row(table, group):
    return next(r for r in table.rows if r.group == group)


def test_response_time_totals_are_exact_percentiles(history):
    tables = reports.response_times(PERIOD, Scope(), NOW, None)
    totals = {t.measure.key: t.total for t in tables}
    answer = totals["answer"]  # 10 s, 25 s, and 20 min 30 s to call a missed call back
    assert (answer.n, answer.p50, answer.p90, answer.p95) == (3, 25.0, 989.0, 1109.5)
    assert answer.mean == pytest.approx(1265 / 3, abs=0.001)
    assert (answer.on_time, answer.late) == (2, 2)
    ack = totals["acknowledge"]  # 20 min, 30 min, 6.5 h, 10 h 50 min, 18.5 h
    assert (ack.n, ack.mean, ack.p50, ack.p90, ack.p95) == (5, 26400.0, 23400.0, 55560.0, 61080.0)
    # Only tickets whose first-contact clock ran: T5 13 h, T2 9 days over the holiday (calls were contacts at once).
    first = totals["first_contact"]
    assert (first.n, first.mean, first.p50, first.p90, first.p95) == (2, 413100.0, 413100.0, 706140.0, 742770.0)
    relief_time = totals["advance_relief"]  # T1 6 h, T10 22 h 59 min 30 s
    assert (relief_time.n, relief_time.p50, relief_time.p90, relief_time.p95) == (2, 52185.0, 76653.0, 79711.5)
    resolve = totals["resolve"]  # 35 h 50 min, 36 h 20 min, 46 h 40 min, 6 d 19 h 30 min
    assert (resolve.n, resolve.mean, resolve.p50, resolve.p90, resolve.p95) == (
        4,
        254100.0,
        149400.0,
        462420.0,
        525510.0,
    )
    assert (resolve.on_time, resolve.late, resolve.pending) == (4, 0, 2)


def test_time_to_acknowledge_by_unit(history):
    units = history["units"]
    table = _table(reports.response_times(PERIOD, Scope(), NOW, "unit"), "acknowledge")
    civil = _row(table, units["civil"].id)
    assert (civil.n, civil.mean, civil.p50, civil.p90, civil.p95) == (2, 34200.0, 34200.0, 60120.0, 63360.0)
    assert (civil.on_time, civil.late, civil.compliance) == (2, 0, 100.0)
    town = _row(table, units["town"].id)
    assert (town.n, town.p50, town.on_time, town.late) == (2, 12300.0, 1, 1)
    medins = _row(table, units["medins"].id)  # never acknowledged: nothing to measure, but late
    assert (medins.n, medins.p50, medins.on_time, medins.late) == (0, None, 0, 1)
    village = _row(table, units["village"].id)
    assert (village.n, village.p50, village.late) == (1, 39000.0, 1)


def test_ticket_times_by_unit_count_a_ticket_for_each_unit_it_was_referred_to(history):
    units = history["units"]
    table = _table(reports.response_times(PERIOD, Scope(), NOW, "unit"), "first_contact")
    town = _row(table, units["town"].id)  # T2 (9 d 0.5 h) and T5 (13 h)
    assert (town.n, town.p50, town.on_time, town.late) == (2, 413100.0, 1, 1)
    medins = _row(table, units["medins"].id)  # T2 only
    assert (medins.n, medins.p50) == (1, 779400.0)
    not_referred = _row(table, None)  # T9 and T10 never reached (T3 and T8 were calls: no first-contact clock)
    assert (not_referred.n, not_referred.p50, not_referred.late, not_referred.pending) == (0, None, 1, 1)
    assert table.total.n == 2


def _units_by_referral_time(population, f, dimension, period, scope):
    """The units of f's tickets as first defined: every referral dispatched since the period began
    (no upper bound: a ticket's referral may come after its period), joined to f."""
    if not (population == "tickets" and dimension == "unit"):
        return ORIGINAL_GROUPED(population, f, dimension, period, scope)
    pairs = (
        select(Referral.ticket_id.label("ticket_id"), Referral.department_id.label("department_id"))
        .distinct()
        .where(Referral.dispatched_at >= period.start)
    )
    if not scope.everything:
        pairs = pairs.where(Referral.department_id.in_(scope.units))
    pairs = pairs.subquery("tu")
    return f.outerjoin(pairs, pairs.c.ticket_id == f.c.id), pairs.c.department_id


ORIGINAL_GROUPED = reports._grouped


@pytest.mark.parametrize(
    "period",
    [
        PERIOD,
        Period(date(2025, 9, 29), date(2025, 10, 8)),  # T2's referrals come after it ends
        Period(date(2025, 10, 9), date(2025, 10, 20)),
        Period(date(2025, 9, 1), date(2025, 9, 30)),
    ],
    ids=lambda p: f"{p.first}..{p.last}",
)
def test_tables_by_unit_read_through_the_periods_tickets_are_the_first_definitions(history, monkeypatch, period):
    """The units of a period's tickets, read through those tickets' referrals (by index), give the
    same tables as the first definition, which read every referral dispatched since the period began."""
    units = history["units"]
    scopes = [Scope(), Scope(frozenset({units["town"].id, units["village"].id}))]
    found = [reports.response_times(period, scope, NOW, "unit") for scope in scopes]
    monkeypatch.setattr(reports, "_grouped", _units_by_referral_time)
    assert found == [reports.response_times(period, scope, NOW, "unit") for scope in scopes]
    assert any(row.group is not None for table in found[0] for row in table.rows)  # some unit in each


def test_a_tickets_unit_counts_though_the_referral_came_after_the_period(history):
    """T2 (a text before the holiday) was referred to the township and 医保局 on 10-09 and 10-10,
    after the period 09-29..10-08 ended: its first contact (late) counts for both units."""
    units = history["units"]
    table = _table(
        reports.response_times(Period(date(2025, 9, 29), date(2025, 10, 8)), Scope(), NOW, "unit"), "first_contact"
    )
    assert (_row(table, units["town"].id).late, _row(table, units["medins"].id).late) == (1, 1)
    assert _row(table, units["medins"].id).n == 1


def test_time_to_resolve_by_priority_and_by_week(history):
    by_priority = _table(reports.response_times(PERIOD, Scope(), NOW, "priority"), "resolve")
    assert _row(by_priority, "P1").n == 3
    assert _row(by_priority, "P1").p50 == 130800.0
    assert (_row(by_priority, "P3").n, _row(by_priority, "P3").p50) == (1, 588600.0)
    assert (_row(by_priority, "P2").n, _row(by_priority, "P2").pending) == (0, 2)
    by_week = _table(reports.response_times(PERIOD, Scope(), NOW, "week"), "acknowledge")
    assert {r.group: r.n for r in by_week.rows} == {"2025-09-29": 1, "2025-10-06": 4}


def test_answer_time_by_township_goes_through_the_calls_ticket(history):
    table = _table(reports.response_times(PERIOD, Scope(), NOW, "category"), "answer")
    # Answered calls have no ticket; the missed ones opened 'other' tickets.
    assert {r.group: r.n for r in table.rows} == {None: 2, "other": 1}


def _python_percentile_cont(values: list[float], p: float) -> float:
    """percentile_cont as the PostgreSQL documentation defines it, written independently."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def _literal_rows(rows):
    """A subquery of literal (id, g, dur, st) rows, the shape ``dialect.summarize`` reads."""
    selects = [
        select(
            literal(ident, Integer).label("id"),
            literal(g, Integer).label("g"),
            cast(literal(dur, Float), Float).label("dur"),  # typed even when NULL
            literal(st, String).label("st"),
        )
        for ident, g, dur, st in rows
    ]
    return union_all(*selects).subquery("s")


@pytest.mark.parametrize("seed", range(6))
def test_percentiles_match_percentile_cont_on_random_groups(app, seed):
    """SQLite's method and PostgreSQL's percentile_cont give the same numbers (this runs on both)."""
    rng = random.Random(seed)
    rows, ident = [], 0
    for g in range(5):
        for _ in range(rng.randint(1, 40)):
            ident += 1
            dur = round(rng.expovariate(1 / 3600), 3) if rng.random() < 0.9 else None
            rows.append((ident, g, dur, rng.choice(["on_time", "late", "pending", None])))
    groups, total = dialect.summarize(_literal_rows(rows), grouped=True)
    for g in range(5):
        values = [dur for _i, group, dur, _s in rows if group == g and dur is not None]
        found = groups[g]
        assert found["n"] == len(values)
        assert found["on_time"] == sum(1 for _i, group, _d, st in rows if group == g and st == "on_time")
        if not values:
            assert found["p50"] is None
            continue
        assert float(found["mean"]) == pytest.approx(statistics.fmean(values), rel=1e-9)
        for p, key in ((0.5, "p50"), (0.9, "p90"), (0.95, "p95")):
            assert found[key] == pytest.approx(_python_percentile_cont(values, p), rel=1e-12, abs=1e-9)
    everything = [dur for _i, _g, dur, _s in rows if dur is not None]
    assert total["n"] == len(everything)
    assert total["p90"] == pytest.approx(_python_percentile_cont(everything, 0.9), rel=1e-12)


def test_an_item_in_two_groups_counts_once_in_the_total(app):
    rows = [(1, 10, 100.0, "late"), (1, 20, 100.0, "late"), (2, 20, 300.0, "on_time")]
    groups, total = dialect.summarize(_literal_rows(rows), grouped=True, distinct_total=True)
    assert (groups[10]["n"], groups[20]["n"], groups[20]["p50"]) == (1, 2, 200.0)
    assert (total["n"], total["p50"], total["late"], total["on_time"]) == (2, 200.0, 1, 1)


def test_percentile_of_a_single_value_and_of_nothing(app):
    groups, total = dialect.summarize(_literal_rows([(1, 7, 42.0, None)]), grouped=True)
    assert (groups[7]["n"], groups[7]["p50"], groups[7]["p90"], groups[7]["p95"]) == (1, 42.0, 42.0, 42.0)
    groups, total = dialect.summarize(_literal_rows([(1, 7, None, "pending")]), grouped=True)
    assert (total["n"], total["p50"], total["pending"]) == (0, None, 1)


def test_local_buckets_start_weeks_on_monday_and_months_on_the_first(app):
    sunday_night = literal(datetime(2025, 10, 12, 17, 0, tzinfo=UTC), UTCDateTime())  # Monday 01:00 local
    saturday = literal(datetime(2025, 10, 11, 4, 0, tzinfo=UTC), UTCDateTime())
    got = db.session.execute(
        select(
            dialect.local_bucket(sunday_night, "day"),
            dialect.local_bucket(saturday, "week"),
            dialect.local_bucket(saturday, "month"),
        )
    ).one()
    assert tuple(got) == ("2025-10-13", "2025-10-06", "2025-10-01")


# --- lists: what each figure counts ------------------------------------------------------------


def test_every_figure_links_to_exactly_the_items_it_counts(history):
    for rate in reports.figures(PERIOD, Scope(), NOW):
        fig = rate.figure
        for name, expected in ((fig.numerator, rate.numerator), (fig.denominator, rate.denominator)):
            stmt = reports.facts_list_select(fig.population, name, PERIOD, Scope(), NOW)
            assert db.session.scalar(select(func.count()).select_from(stmt.subquery())) == expected, (fig.key, name)


def test_lists_name_the_tickets_and_referrals(history):
    t, r = history["t"], history["r"]
    number = lambda *keys: {t[k].number for k in keys}  # noqa: E731
    assert _numbers(reports.facts_list_select("tickets", "called_back", PERIOD, Scope(), NOW)) == number(
        "T1", "T3", "T5"
    )
    assert _numbers(reports.facts_list_select("tickets", "all", PERIOD, Scope(), NOW)) == number(
        "T1", "T2", "T3", "T4", "T5", "T8", "T9", "T10"
    )
    assert _numbers(reports.facts_list_select("tickets", "first_contact_late", PERIOD, Scope(), NOW)) == number(
        "T2", "T10"
    )
    assert _ids(reports.facts_list_select("referrals", "acknowledge_late", PERIOD, Scope(), NOW)) == {
        r["R2"].id,
        r["R3"].id,
        r["R6"].id,
    }
    civil = Filters(unit=history["units"]["civil"].id)
    assert _numbers(reports.facts_list_select("tickets", "all", PERIOD, Scope(), NOW, civil)) == number("T1", "T4")
    missed = db.session.scalars(reports.facts_list_select("calls", "missed", PERIOD, Scope(), NOW))
    assert {c.provider_sid for c in missed} == {"CA3", "CA4"}
    day = Filters(bucket="2025-09-29", grain="day")
    assert _numbers(reports.facts_list_select("tickets", "all", PERIOD, Scope(), NOW, day)) == number("T1", "T3", "T8")


def test_what_stands_now(history):
    t, units = history["t"], history["units"]
    assert reports.open_urgent(Scope()) == {"new": 1, "open": 0, "referred": 0, "pending_callback": 0}
    overdue = {o["name"]: o["count"] for o in reports.overdue_by_unit(Scope(), NOW)}
    # The hotline's own: T10 (P1, never referred), and T8 and T7, open P3 tickets nobody referred or
    # answered within their three working days (the hotline's own clock).
    assert overdue == {None: 3, units["medins"].name: 1}
    assert reports.current_counts(Scope(), NOW) == {
        "breached": 4,
        "returns_waiting": 0,
        "extensions_waiting": 0,
        "paperwork_overdue": 1,
    }
    _pop, breached = reports.current_list_select("breached", Scope(), NOW)
    assert _numbers(breached) == {t["T2"].number, t["T10"].number, t["T7"].number, t["T8"].number}
    _pop, paperwork = reports.current_list_select("paperwork_overdue", Scope(), NOW)
    assert _numbers(paperwork) == {t["T10"].number}


# --- a department sees its own units only -------------------------------------------------------


def test_department_scope_counts_only_its_units(history):
    units = history["units"]
    scope = Scope(frozenset(access.unit_ids(units["town"].id)))
    assert scope.units == {units["town"].id, units["village"].id}
    found = {rate.figure.key: (rate.numerator, rate.denominator) for rate in reports.figures(PERIOD, scope, NOW)}
    assert "answer_rate" not in found  # the hotline's calls are not a department's figure
    assert found["referrals_closed"] == (1, 2)  # T5 closed; T2's referral was returned
    assert found["acknowledged_on_time"] == (1, 3)  # R5 on time; R2 and R6 late
    assert found["return_rate"] == (1, 3)
    assert found["resolved_on_time"] == (2, 2)
    assert found["answered_on_call"] == (0, 2)
    tables = reports.response_times(PERIOD, scope, NOW, "unit")
    assert "answer" not in {t.measure.key for t in tables}
    assert {r.group for r in _table(tables, "acknowledge").rows} == {units["town"].id, units["village"].id}
    assert reports.overdue_by_unit(scope, NOW) == []


# --- pages, access, exports --------------------------------------------------------------------


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(report_views, "utcnow", lambda: NOW)


PERIOD_ARGS = "range=custom&from=2025-09-29&to=2025-10-12"


@pytest.mark.parametrize(
    "url",
    ["/reports", "/reports/times?dim=unit", "/reports/list?pop=tickets&set=all", "/reports/export/dashboard.csv"],
)
def test_anonymous_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_have_no_reports(logged_in, make_user, role):
    client = logged_in(make_user(role))
    for url in ("/reports", "/reports/times", "/reports/list?pop=tickets", "/reports/export/dashboard.xlsx"):
        assert client.get(url).status_code == 403


def english(user):
    user.locale = "en"
    db.session.commit()
    return user


def test_manager_dashboard_links_every_figure_to_its_list(history, logged_in, manager, fixed_now):
    client = logged_in(english(manager))
    html = client.get(f"/reports?{PERIOD_ARGS}").get_data(as_text=True)
    assert 'data-figure="answer_rate"' in html
    assert "50.0%" in html
    listing = client.get(f"/reports/list?pop=tickets&set=called_back&{PERIOD_ARGS}").get_data(as_text=True)
    assert "3 in all" in listing
    assert history["t"]["T1"].number in listing and history["t"]["T8"].number not in listing
    assert "138****0001" in listing and "13800000001" not in listing
    times = client.get(f"/reports/times?dim=unit&{PERIOD_ARGS}")
    assert times.status_code == 200 and "县民政局" in times.get_data(as_text=True)
    for dim in reports.DIMENSIONS:
        assert client.get(f"/reports/times?dim={dim}&{PERIOD_ARGS}").status_code == 200


def test_department_pages_show_only_their_units(history, logged_in, fixed_now):
    client = logged_in(english(history["town_staff"]))
    html = client.get(f"/reports?{PERIOD_ARGS}").get_data(as_text=True)
    assert "河口乡" in html and "县医疗保障局" not in html and 'data-figure="answer_rate"' not in html
    listing = client.get(f"/reports/list?pop=tickets&set=all&{PERIOD_ARGS}").get_data(as_text=True)
    assert "2 in all" in listing
    assert f"/referrals/{history['r']['R2'].id}" in listing  # their way into a ticket is their referral
    assert "/tickets/" not in listing
    assert client.get(f"/reports/list?pop=calls&set=all&{PERIOD_ARGS}").status_code == 404
    referrals_list = client.get(f"/reports/list?pop=referrals&set=all&{PERIOD_ARGS}").get_data(as_text=True)
    assert "3 in all" in referrals_list and "县医疗保障局" not in referrals_list


def test_unknown_list_dimension_or_period_is_refused(history, logged_in, manager):
    client = logged_in(manager)
    assert client.get("/reports/list?pop=tickets&set=nonsense").status_code == 404
    assert client.get("/reports/list?list=nonsense").status_code == 404
    assert client.get("/reports/times?dim=planet").status_code == 404
    assert client.get("/reports?range=custom&from=2025-10-12&to=2025-09-29").status_code == 400
    assert client.get("/reports/export/dashboard.pdf").status_code == 404


def test_dashboard_export_opens_in_excel_with_chinese_headers_and_is_audited(history, logged_in, manager, fixed_now):
    client = logged_in(manager)
    response = client.get(f"/reports/export/dashboard.xlsx?{PERIOD_ARGS}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("指标", "名称", "分子", "分母", "比率（%）")
    by_name = {row[0]: row[2:] for row in rows[1:]}
    assert by_name["接通率"] == (2, 4, 50.0)
    assert by_name["满意率"] == (2, 3, 66.7)
    assert by_name["补齐手续及时率"] == (0, 2, 0.0)
    times = book["响应时间"]
    header, *lines = list(times.iter_rows(values_only=True))
    assert header[:5] == ("指标", "范围", "件数", "平均（秒）", "中位数P50（秒）")
    assert ("签收用时", "合计", 5, 26400.0, 23400.0, 55560.0, 61080.0, 3, 3, 50.0) in lines
    entry = db.session.scalars(select(AuditLog).where(AuditLog.kind == "report_exported")).one()
    assert entry.target == "dashboard" and entry.actor_id == manager.id
    assert entry.payload["format"] == "xlsx"
    assert entry.payload["filters"] == {"range": "custom", "from": "2025-09-29", "to": "2025-10-12"}
    assert entry.payload["rows"] == sum(len(list(ws.iter_rows())) - 1 for ws in book.worksheets)


def test_ticket_list_export_masks_phone_numbers(history, logged_in, manager, fixed_now):
    client = logged_in(manager)
    response = client.get(f"/reports/export/list.xlsx?pop=tickets&set=all&{PERIOD_ARGS}")
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == ("工单编号", "受理时间", "渠道", "优先级", "类别", "状态", "摘要", "乡镇", "来电号码", "督办级别")
    assert len(rows) == 8
    phones = {row[8] for row in rows}
    assert "138****0001" in phones and "13800000001" not in phones
    entry = db.session.scalars(select(AuditLog).where(AuditLog.kind == "report_exported")).one()
    assert entry.target == "list" and entry.payload["rows"] == 8
    assert entry.payload["filters"]["set"] == "all"


def test_csv_export_has_a_byte_order_mark_for_excel(history, logged_in, manager, fixed_now):
    client = logged_in(manager)
    response = client.get(f"/reports/export/times.csv?dim=priority&{PERIOD_ARGS}")
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["指标", "优先级", "件数"]
    p1 = next(r for r in rows if r[0] == "办结用时" and r[1].startswith("P1"))
    assert p1[2] == "3"


def test_department_export_holds_only_its_rows(history, logged_in, fixed_now):
    client = logged_in(history["town_staff"])
    response = client.get(f"/reports/export/list.csv?pop=referrals&set=all&{PERIOD_ARGS}")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 4  # header + R2, R5, R6
    assert {row[2] for row in rows[1:]} == {"河口乡", "河口村"}
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.kind == "report_exported")) == 1


def test_merged_and_outside_tickets_stay_out(history):
    t = history["t"]
    numbers = _numbers(reports.facts_list_select("tickets", "all", PERIOD, Scope(), NOW))
    assert t["T6"].number not in numbers and t["T7"].number not in numbers
    assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status == "merged")) == 1
    assert db.session.scalar(select(func.count(Referral.id))) == 6
    assert db.session.scalar(select(func.count(Interaction.id)).where(Interaction.provider_sid.is_not(None))) == 5


def test_independent_report_queries_run_side_by_side_on_postgresql_in_turn_on_sqlite(app, history):
    """The populations of a response-time table are read at once on PostgreSQL, each on its own session."""
    import threading

    def job(value):
        def run():
            seen = db.session.scalar(select(func.count(Ticket.id)))
            # The session itself, not its id(): a session already gone could leave its id to the next one.
            return value, seen, threading.current_thread().name, db.session()

        return run

    results = dialect.run_concurrently([job(1), job(2), job(3)])
    assert [value for value, *_ in results] == [1, 2, 3]
    # Each sees the committed history.
    assert {seen for _v, seen, *_ in results} == {db.session.scalar(select(func.count(Ticket.id)))} != {0}
    threads = {thread for _v, _s, thread, _session in results}
    sessions = {id(session) for *_, session in results}  # all three still referenced by ``results``
    if dialect.name() == "postgresql":
        # A worker thread that finished its job may take the next (the pool reuses an idle thread).
        assert threading.current_thread().name not in threads and len(sessions) == 3
    else:
        assert threads == {threading.current_thread().name} and sessions == {id(db.session())}


def test_a_failing_report_query_fails_the_report(app):
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        dialect.run_concurrently([lambda: 1, broken])
