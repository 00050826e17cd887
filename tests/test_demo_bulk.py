"""The bulk demo writes a case as the services and the sweep would: the same case both ways, row by row.

Each case is run twice with the same fixed instants: through the service
functions (``hotline.tickets.service``, ``hotline.referrals.service``) with the
escalation sweep run as the scheduler runs it (every 30 seconds, at whole
multiples: here only at the ticks where something is due, which writes the same),
and through the bulk loader's case writer (``hotline.demo.bulk_case``), whose
rows go through the bulk writer into the same database. The rows are read
back through the models and compared field by field after naming ids by
their place (the ticket, its referrals in order): the ticket, its referrals,
its events in time order, its escalation steps.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hotline.demo.bulk_case import CaseWriter, swept
from hotline.demo.bulk_clocks import Clocks, WorkingIndex, local_day
from hotline.demo.bulk_rows import Writer
from hotline.escalation import sla
from hotline.escalation.sweep import sweep
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.relief import service as relief_service
from hotline.tickets import service as ts
from hotline.timeutil import to_local
from models.escalation import EscalationStep
from models.referral import Referral
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.ticket import Ticket, TicketEvent

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
#: Differ by construction: the row's own id and number, and the optimistic-lock counter (1 in the bulk rows).
SKIP = {"id", "number", "version", "ticket_id"}


def _ts(at: datetime) -> int:
    return int(at.timestamp())


def _sweep_until(at: datetime, since: datetime | None = None) -> None:
    """Run every sweep the scheduler would have run after ``since`` and by ``at`` that finds something due.

    A sweep at the instant of an action runs before it, so none runs at or before ``since``
    (the last action): a step that an action made due in the past is written by the next sweep.
    """
    while True:
        due = [
            db.session.scalar(select(func.min(model.next_escalation_at)).where(model.next_escalation_at.is_not(None)))
            for model in (Ticket, Referral)
        ]
        due = [d for d in due if d is not None]
        if not due:
            return
        tick = swept(_ts(min(due)) + (min(due).microsecond > 0))
        if since is not None:
            tick = max(tick, swept(_ts(since) + 1))
        tick = datetime.fromtimestamp(tick, UTC)
        if tick > at:
            return
        sweep(now=tick)


class Services:
    """Each step at its instant through the services, committed as a request would be, sweeps in between."""

    def __init__(self):
        self.last: datetime | None = None

    def __call__(self, at: datetime, step, *args, **kwargs):
        _sweep_until(at, self.last)
        result = step(*args, now=at, **kwargs)
        db.session.commit()
        self.last = at
        return result

    def until(self, at: datetime) -> None:
        _sweep_until(at, self.last)


def _bulk(now: datetime):
    """A case writer on the test database, as ``load_bulk_demo`` builds it, with ``now`` as the load's instant."""
    from hotline.demo.bulk import next_ids

    calendar = sla.working_calendar()
    first, last = to_local(now).date() - timedelta(days=60), to_local(now).date() + timedelta(days=400)
    clocks = Clocks(sla.sla_policy(), WorkingIndex(calendar, first, last))
    db.session.commit()
    raw = db.engine.raw_connection()
    writer = Writer(raw, db.engine.dialect.name)
    return CaseWriter(writer, clocks, next_ids(), _ts(now)), raw


def _flush(cases, c) -> None:
    cases.finish(c)
    cases.w.flush()


def _columns(row, skip=SKIP) -> dict:
    return {col.name: getattr(row, col.key) for col in row.__table__.c if col.name not in skip}


def _rows(ticket_id: int) -> dict:
    """The case's rows with ids named by place: referral n, the ticket itself."""
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    referrals = list(db.session.scalars(select(Referral).where(Referral.ticket_id == ticket_id).order_by(Referral.id)))
    place = {r.id: f"referral {n}" for n, r in enumerate(referrals)}
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.at, TicketEvent.id)
    )
    steps = db.session.scalars(
        select(EscalationStep)
        .where(EscalationStep.ticket_id == ticket_id)
        .order_by(EscalationStep.due_at, EscalationStep.clock, EscalationStep.level)
    )
    reliefs = list(
        db.session.scalars(select(AdvanceRelief).where(AdvanceRelief.ticket_id == ticket_id).order_by(AdvanceRelief.id))
    )
    place |= {r.id: f"relief {n}" for n, r in enumerate(reliefs)}
    payments = db.session.scalars(
        select(AdvanceReliefPayment)
        .where(AdvanceReliefPayment.relief_id.in_([r.id for r in reliefs]))
        .order_by(AdvanceReliefPayment.paid_at)
    )
    return {
        "ticket": _columns(ticket),
        "reliefs": [_columns(r) for r in reliefs],
        "payments": [_columns(p, SKIP | {"relief_id"}) | {"relief": place[p.relief_id]} for p in payments],
        "referrals": [_columns(r) | {"parent_id": place.get(r.parent_id)} for r in referrals],
        "events": [(e.at, e.kind, e.actor_id, place.get(e.referral_id), _named(e.payload, place)) for e in events],
        "steps": [
            (place.get(s.referral_key), s.clock, s.started_at, s.level, s.due_at, s.written_at, s.actor_id, s.payload)
            for s in steps
        ],
    }


def _named(payload: dict, place: dict) -> dict:
    """A relief event's ids (the relief's, the payment's) named by place."""
    out = dict(payload)
    if "relief" in out:
        out["relief"] = place[out["relief"]]
    if "payment" in out:
        out["payment"] = "payment"
    return out


def assert_same(services: dict, bulk: dict) -> None:
    """Field by field, so a failure names what differs."""
    for field, value in services["ticket"].items():
        assert bulk["ticket"][field] == value, f"ticket.{field}"
    assert len(bulk["referrals"]) == len(services["referrals"])
    for n, (mine, theirs) in enumerate(zip(bulk["referrals"], services["referrals"], strict=True)):
        for field, value in theirs.items():
            assert mine[field] == value, f"referral {n}.{field}"
    assert bulk["reliefs"] == services["reliefs"], "advance relief"
    assert bulk["payments"] == services["payments"], "relief payments"
    assert [e[:2] for e in bulk["events"]] == [e[:2] for e in services["events"]], "event kinds in order"
    for mine, theirs in zip(bulk["events"], services["events"], strict=True):
        assert mine == theirs, f"event {theirs[1]} at {theirs[0]}"
    assert bulk["steps"] == services["steps"], "escalation steps"


def test_a_referred_case_from_text_to_closing(app, operator, civil, civil_staff, now):
    """A P2 text taken, the person called, referred, acknowledged late (a 预警 on the acknowledge clock),
    resolved, called back and closed: the bulk rows equal the services' and the sweep's."""
    # Thursday 2025-10-09 12:00 in Shanghai (lunch: working time starts at 14:00).
    taken, called, referred = now + 10 * MINUTE, now + 15 * MINUTE, now + 3 * HOUR
    acknowledged = now + 21 * HOUR + 30 * MINUTE  # Friday 09:30, after the acknowledge clock's 75 %
    progress = acknowledged + 30 * MINUTE
    resolved = now + 4 * 24 * HOUR - 2 * HOUR  # Monday 10:00
    callback, closed = resolved + 6 * HOUR, resolved + 6 * HOUR + 10 * MINUTE
    later = closed + 7 * 24 * HOUR  # the load: long after, every clock run has ended

    run = Services()
    promised = now + 2 * HOUR  # the SMS answer's "contact within 2 hours": the first-contact deadline
    t = run(
        now,
        ts.open_unclaimed_ticket,
        channel="sms",
        phone="13900001111",
        summary="家里没米了",
        priority="P2",
        contact_by=promised,
    )
    run(taken, ts.take_ticket, t, actor=operator)
    run(called, ts.record_callback, t, actor=operator, reached=True, satisfaction=4)
    r = run(referred, rs.dispatch_referral, t, department=civil, role="lead", actor=operator)
    run(acknowledged, rs.acknowledge, r, actor=civil_staff)
    run(progress, rs.add_progress, r, actor=civil_staff, text="已联系当事人，正在核实情况。")
    run(resolved, rs.resolve, r, actor=civil_staff, result="已办结，已反馈来电人。", outcome="relief_granted")
    run(callback, ts.record_callback, t, actor=operator, reached=True, satisfaction=5)
    run(closed, ts.close_ticket, t, actor=operator)
    run.until(later)
    services = _rows(t.id)
    steps = [s[1:4:2] for s in services["steps"]]
    assert ("acknowledge", "warn") in steps  # the case is what it says
    # The promise (14:00) ends the lunch break the text came in: the first-contact clock holds no working
    # time, and sla.ladder_steps puts its 预警 and 催办 at its start (12:00). Both ways write them there.

    cases, raw = _bulk(later)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9001),
            channel="sms",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="other",
            priority="P2",
            summary="家里没米了",
            created=_ts(now),
            owner=None,
            contact_by=_ts(promised),
        )
        cases.take(c, operator.id, _ts(taken))
        cases.callback(c, operator.id, _ts(called), reached=True, satisfaction=4)
        b = cases.dispatch(c, operator.id, civil.id, civil.name, "lead", _ts(referred))
        cases.acknowledge(c, b, civil_staff.id, _ts(acknowledged))
        cases.progress(c, b, civil_staff.id, _ts(progress), "已联系当事人，正在核实情况。", contacted=False)
        cases.resolve(c, b, civil_staff.id, _ts(resolved), "已办结，已反馈来电人。", "relief_granted")
        cases.roll_up(c, civil_staff.id, _ts(resolved))
        cases.callback(c, operator.id, _ts(callback), reached=True, satisfaction=5)
        cases.close(c, operator.id, _ts(closed))
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_an_open_case_past_its_warn_point(app, operator, civil, now):
    """A P2 call logged and referred, never acknowledged: at the load's ``now`` its acknowledge clock has
    passed 预警 and 催办 and its resolve clock runs: the same steps, deadlines and next ladder instant."""
    logged, referred = now + HOUR, now + 2 * HOUR  # Thursday 13:00 and 14:00
    load = now + 24 * HOUR + 15 * MINUTE  # Friday 12:15, acknowledge due Friday 09:00

    run = Services()
    t = run(
        logged,
        ts.log_call,
        actor=operator,
        phone="13900002222",
        category="subsistence",
        priority="P2",
        summary="询问低保申请进度",
    )
    run(referred, rs.dispatch_referral, t, department=civil, role="lead", actor=operator)
    run.until(load)
    services = _rows(t.id)
    assert [s[3] for s in services["steps"]] == ["warn", "urge"]
    assert services["ticket"]["status"] == "referred" and services["ticket"]["next_deadline_at"] is not None

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(logged)), 9002),
            channel="voice",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="subsistence",
            priority="P2",
            summary="询问低保申请进度",
            created=_ts(logged),
            owner=operator.id,
        )
        cases.dispatch(c, operator.id, civil.id, civil.name, "lead", _ts(referred))
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_an_urgent_case_returned_and_redispatched_on_wall_clock_time(
    app, operator, civil, civil_staff, health, health_staff, now
):
    """A P1 call (24/7 clocks) referred, returned before acknowledgement and redispatched to another unit,
    which acknowledges; three days later its resolve clock has passed 预警 and the advance-relief clock
    (never met) has climbed the whole ladder through the night: the same rows both ways."""
    referred, asked, decided = now + 10 * MINUTE, now + 30 * MINUTE, now + HOUR
    acknowledged = decided + 20 * MINUTE
    load = now + 72 * HOUR + 15 * MINUTE

    run = Services()
    t = run(
        now,
        ts.log_call,
        actor=operator,
        phone="13900003333",
        category="illness_hardship",
        priority="P1",
        summary="家人突发重病住院，拿不出押金",
    )
    r = run(referred, rs.dispatch_referral, t, department=civil, role="lead", actor=operator)
    run(asked, rs.request_return, r, actor=civil_staff, reason="not_our_remit", comment="不属于本单位职责。")
    again = run(decided, rs.decide_return, r, actor=operator, accept=True, comment="改派", redispatch_to=health)
    run(acknowledged, rs.acknowledge, again, actor=health_staff)
    run.until(load)
    services = _rows(t.id)
    steps = [(s[0], s[1], s[3]) for s in services["steps"]]
    assert ("referral 1", "resolve", "warn") in steps
    assert (None, "advance_relief", "case_conference") in steps

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9003),
            channel="voice",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="illness_hardship",
            priority="P1",
            summary="家人突发重病住院，拿不出押金",
            created=_ts(now),
            owner=operator.id,
        )
        first = cases.dispatch(c, operator.id, civil.id, civil.name, "lead", _ts(referred))
        cases.request_return(c, first, civil_staff.id, _ts(asked), "not_our_remit", "不属于本单位职责。")
        cases.decide_return(c, first, operator.id, _ts(decided), accept=True, comment="改派")
        second = cases.dispatch(c, operator.id, health.id, health.name, "lead", _ts(decided), first["instructions"])
        cases.acknowledge(c, second, health_staff.id, _ts(acknowledged))
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_a_case_answered_on_the_call_closed_reopened_and_answered_again(app, operator, now):
    """A P3 walk-in answered on the call, nobody reached at the callback, closed, reopened the next day and
    answered again: its callback clock counts to the close of Saturday 2025-10-11 (a make-up working day)
    and has passed 预警 at the load."""
    called, closed = now + 4 * HOUR, now + 4 * HOUR + 10 * MINUTE
    reopened, answered = now + 24 * HOUR, now + 25 * HOUR  # Friday 12:00 and 13:00
    load = now + 51 * HOUR  # Saturday 15:00, a working day
    answer = "已告知办理流程和所需材料，并联系村（社区）协助。"

    run = Services()
    t = run(
        now,
        ts.log_call,
        actor=operator,
        phone="13900004444",
        category="policy_enquiry",
        priority="P3",
        summary="临时救助需要哪些材料",
        channel="walk_in",
        answered_on_call=True,
        answer=answer,
    )
    run(called, ts.record_callback, t, actor=operator, reached=False, comment="电话无人接听")
    run(closed, ts.close_ticket, t, actor=operator)
    run(reopened, ts.reopen_ticket, t, actor=operator, reason="来电人再次来电")
    run(answered, ts.resolve_directly, t, actor=operator, answer=answer)
    run.until(load)
    services = _rows(t.id)
    assert [(s[1], s[3]) for s in services["steps"]] == [("callback", "warn")]

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9004),
            channel="walk_in",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="policy_enquiry",
            priority="P3",
            summary="临时救助需要哪些材料",
            created=_ts(now),
            owner=operator.id,
            answer=answer,
        )
        cases.callback(c, operator.id, _ts(called), reached=False, satisfaction=None, comment="电话无人接听")
        cases.close(c, operator.id, _ts(closed))
        cases.reopen(c, operator.id, _ts(reopened), "来电人再次来电")
        cases.resolve_directly(c, operator.id, _ts(answered), answer)
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_the_bulk_writer_fills_what_the_models_say_and_refuses_a_required_column_left_out(app):
    """Columns come from the ``Table`` objects: an unnamed column gets its model default (a callable one
    called per row), the version column 1, a nullable one NULL; a NOT NULL column without a default
    that the generator leaves out stops the load with its name instead of loading a NULL."""
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        writer = Writer(raw, db.engine.dialect.name)
        plan = writer._plans["ticket"]
        assert plan.constants["confidential"] is False and plan.constants["version"] == 1
        assert plan.constants["triage_reasons"] is None and "summary" in plan.required
        assert [name for name, _make in writer._plans["ticket_event"].callables] == ["payload"]
        writer.add("ticket", {"id": 1, "number": "202510090001", "channel": "sms", "category": "other"})
        with pytest.raises(RuntimeError, match=r"ticket columns \['created_at', 'priority', 'status', 'summary'"):
            writer.flush()
    finally:
        raw.rollback()
        raw.close()


def test_an_extended_referral_climbs_one_ladder_with_two_deadlines(app, operator, manager, civil, civil_staff, now):
    """A P3 referral past its 预警 is extended (延期) by a manager: the run keeps the level it reached, the
    new deadline's 预警 is not written again though the sweep meets it, and the next step is the new 催办."""
    referred, acknowledged = now + 2 * HOUR, now + 3 * HOUR
    calendar = sla.working_calendar()
    due = sla.deadline("P3", "resolve", referred)
    asked = sla.ladder_steps("P3", "resolve", referred, due)[0].at + 45 * MINUTE  # after 预警, before the deadline
    until = calendar.add_working_time(due, days=5)
    decided = asked + 3 * HOUR
    load = sla.ladder_steps("P3", "resolve", referred, until)[0].at + HOUR
    assert asked < due < load < until

    run = Services()
    t = run(
        now,
        ts.log_call,
        actor=operator,
        phone="13900005555",
        category="housing",
        priority="P3",
        summary="房屋墙体开裂成危房",
    )
    r = run(referred, rs.dispatch_referral, t, department=civil, role="lead", actor=operator)
    run(acknowledged, rs.acknowledge, r, actor=civil_staff)
    run(asked, rs.request_extension, r, actor=civil_staff, reason="需入户核实", until=until)
    run(decided, rs.decide_extension, r, actor=manager, approve=True)
    run.until(load)
    services = _rows(t.id)
    assert [(s[1], s[3]) for s in services["steps"]] == [("resolve", "warn")]
    assert services["referrals"][0]["next_escalation_at"] == until  # 催办 at the new deadline

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9005),
            channel="voice",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="housing",
            priority="P3",
            summary="房屋墙体开裂成危房",
            created=_ts(now),
            owner=operator.id,
        )
        b = cases.dispatch(c, operator.id, civil.id, civil.name, "lead", _ts(referred))
        cases.acknowledge(c, b, civil_staff.id, _ts(acknowledged))
        cases.request_extension(c, b, civil_staff.id, _ts(asked), "需入户核实", _ts(until))
        cases.decide_extension(c, b, manager.id, _ts(decided), approve=True)
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_an_urgent_case_with_advance_relief_paid_and_its_paperwork_done(app, operator, manager, make_department, now):
    """A P1 call answered by relief (先行救助 by the township, within the limit), paid, answered directly
    four hours on and its paperwork recorded by a manager (no papers uploaded): the hotline's 30-minute own
    clock climbed its whole ladder meanwhile, and the callback clock (one day, 24/7) has passed 预警 at the load."""
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    granted, paid, answered = now + 2 * HOUR, now + 3 * HOUR, now + 4 * HOUR
    load = answered + 20 * HOUR  # the callback is due a day after the answer; 预警 at 18 hours
    papers = load - 10 * HOUR
    answer = "已发放临时救助，并联系村（社区）协助。"

    run = Services()
    t = run(
        now,
        ts.log_call,
        actor=operator,
        phone="13900006666",
        category="accident_disaster",
        priority="P1",
        summary="房屋失火，一家人无处居住",
    )
    relief = run(
        granted,
        relief_service.grant_relief,
        t,
        actor=operator,
        kind="temporary_assistance",
        amount_yuan="2000",
        granting_unit=town,
        reason="急难先行救助",
    )
    run(paid, relief_service.record_payment, relief, actor=operator, amount_yuan="2000", note="一次性发放")
    run(answered, ts.resolve_directly, t, actor=operator, answer=answer)
    run(papers, relief_service.complete_paperwork, t, actor=manager, note="材料已线下核验")
    run.until(load)
    services = _rows(t.id)
    steps = [(s[1], s[3]) for s in services["steps"]]
    assert steps[:4] == [("dispatch", level) for level in ("warn", "urge", "supervise", "case_conference")]
    assert ("callback", "warn") in steps

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9006),
            channel="voice",
            contact_id=t.contact_id,
            contact_is_child=False,
            category="accident_disaster",
            priority="P1",
            summary="房屋失火，一家人无处居住",
            created=_ts(now),
            owner=operator.id,
        )
        given = cases.grant_relief(
            c,
            operator.id,
            _ts(granted),
            kind="temporary_assistance",
            fen=200_000,
            unit_id=town.id,
            unit_name=town.name,
            reason="急难先行救助",
            limit=relief_service.limit_fen(),
        )
        cases.record_payment(c, given, operator.id, _ts(paid), 200_000, "一次性发放")
        cases.resolve_directly(c, operator.id, _ts(answered), answer)
        missing = ["id_card", "household_register", "application_form"]
        cases.complete_paperwork(c, manager.id, _ts(papers), "材料已线下核验", missing)
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))


def test_a_duplicate_merged_into_the_callers_open_ticket(app, operator, now):
    """并单: the same caller again ten minutes later, merged into their open ticket: the duplicate's rows
    (the target's updated_at is not compared: the bulk loader has written the target's row already)."""
    again, merged = now + 10 * MINUTE, now + 20 * MINUTE
    load = now + 2 * HOUR
    reason = "同一来电人重复反映同一事项"
    call = {"phone": "13900007777", "category": "subsistence", "priority": "P2", "summary": "询问低保申请进度"}

    run = Services()
    first = run(now, ts.log_call, actor=operator, **call)
    duplicate = run(again, ts.log_call, actor=operator, **call)
    run(merged, ts.merge_ticket, duplicate, actor=operator, target=first, reason=reason)
    run.until(load)
    services = _rows(duplicate.id)

    cases, raw = _bulk(load)
    try:
        c = cases.open(
            number=ts.ticket_number(local_day(_ts(now)), 9007),
            channel="voice",
            contact_id=duplicate.contact_id,
            contact_is_child=False,
            category="subsistence",
            priority="P2",
            summary="询问低保申请进度",
            created=_ts(again),
            owner=operator.id,
        )
        cases.merge(c, operator.id, _ts(merged), first.id, first.number, reason)
        _flush(cases, c)
    finally:
        raw.close()
    assert_same(services, _rows(c.values["id"]))
    merged_from = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == first.id, TicketEvent.kind == "merged_from")
    ).all()
    assert [e.payload for e in merged_from] == [
        {"source": duplicate.number, "reason": reason},
        {"source": c.values["number"], "reason": reason},
    ]
