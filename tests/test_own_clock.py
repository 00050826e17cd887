"""A clock on every open case: every state and transition runs one, reruns escalate, catch-up is a digest."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hotline.demo import load_demo
from hotline.errors import DomainError
from hotline.escalation import clocks, sla
from hotline.escalation import service as esc
from hotline.escalation.sweep import sweep
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from models.escalation import EscalationStep
from models.notification import Notification
from models.outbox import OutboundMessage
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent
from tests.conftest import login

MINUTE = timedelta(minutes=1)


def running(ticket: Ticket) -> list[clocks.Span]:
    """What the ticket page's clocks panel lists: the ticket's own running clocks and its referrals'."""
    spans = clocks.ticket_spans(ticket)
    for referral in ticket.referrals:
        spans += clocks.referral_spans(referral)
    return spans


def assert_a_clock_runs(ticket: Ticket) -> None:
    """The invariant: an open ticket has a next deadline, a running clock and a next ladder step.

    The next ladder step is the ticket's own or one of its active referrals'
    (the sweep reads both indexes). A paused ticket runs its pause review, so
    it has one too. The tests stay before every clock's 个案会商, after which a
    ladder has no further step.
    """
    db.session.flush()
    if ticket.status not in OPEN_STATUSES:
        assert ticket.next_deadline_at is None and ticket.next_escalation_at is None
        assert running(ticket) == []
        return
    assert ticket.next_deadline_at is not None, ticket.status
    assert running(ticket), ticket.status
    escalations = [ticket.next_escalation_at] + [r.next_escalation_at for r in ticket.referrals if r.is_active]
    assert any(at is not None for at in escalations), ticket.status
    if ticket.paused_at is not None:
        assert [s.clock for s in running(ticket)] == ["pause_review"]
    elif ticket.status in ("new", "open"):
        assert "dispatch" in [s.clock for s in running(ticket)]


def log_p2(operator, now, **kw):
    return ts.log_call(
        actor=operator,
        now=now,
        phone="13812341234",
        category="subsistence",
        priority=kw.pop("priority", "P2"),
        summary="低保申请没有消息",
        **kw,
    )


# --- every state and transition --------------------------------------------------------------


def test_every_state_and_transition_runs_a_clock(
    app, operator, manager, make_user, civil, civil_staff, health, health_staff, now
):
    other_operator = make_user("operator", username="op_li")
    at = now

    def step(minutes=30):
        nonlocal at
        at += timedelta(minutes=minutes)
        return at

    # new: an SMS nobody took yet runs the hotline's own clock and the first-contact clock.
    sms = ts.open_unclaimed_ticket(now=at, channel="sms", phone="13900001111", summary="家里没米了", priority="P2")
    assert_a_clock_runs(sms)
    assert {s.clock for s in running(sms)} == {"dispatch", "first_contact"}
    assert sms.dispatch_started_at == at and sms.dispatch_due_at == sla.deadline("P2", "dispatch", at)
    # taken: the same run goes on (the caller has waited since the text came in).
    ts.take_ticket(sms, actor=operator, now=step())
    assert_a_clock_runs(sms)
    assert sms.dispatch_started_at == now
    # handed over to another operator: still the same run.
    ts.transfer_owner(sms, actor=operator, now=step(), new_owner=other_operator, reason="换班")
    assert_a_clock_runs(sms)
    assert sms.dispatch_started_at == now

    # open, owned, no referral: the own clock (P2: one working day).
    t = log_p2(operator, step())
    logged = at
    assert_a_clock_runs(t)
    assert [s.clock for s in running(t)] == ["dispatch"]
    assert t.next_deadline_at == t.dispatch_due_at == sla.deadline("P2", "dispatch", logged)
    # priority change: the run keeps its start, its deadline follows the new length.
    ts.change_priority(t, actor=operator, now=step(), priority="P3", reason="不紧急")
    assert_a_clock_runs(t)
    assert t.dispatch_started_at == logged and t.dispatch_due_at == sla.deadline("P3", "dispatch", logged)
    # paused while waiting for the caller: only the pause review runs.
    esc.pause_clocks(t, actor=operator, now=step(), reason="等来电人补充材料")
    assert_a_clock_runs(t)
    assert t.next_deadline_at == t.pause_review_due_at == sla.deadline("P3", "pause_review", at)
    esc.resume_clocks(t, actor=operator, now=step())
    assert_a_clock_runs(t)
    assert t.pause_review_due_at is None

    # referred: the referral's clocks run; the own clock has stopped (its deadline kept for the reports).
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=step())
    assert_a_clock_runs(t)
    assert t.dispatch_started_at is None and t.dispatch_due_at is not None
    assert {s.clock for s in running(t)} == {"acknowledge", "resolve"}
    rs.request_return(r, actor=civil_staff, now=step(), reason="not_our_remit", comment="非本单位职责")
    assert_a_clock_runs(t)
    assert "return_review" in {s.clock for s in running(t)}
    rs.decide_return(r, actor=operator, now=step(), accept=False, comment="属于民政职责")
    assert_a_clock_runs(t)
    rs.request_return(r, actor=civil_staff, now=step(), reason="not_our_remit", comment="确实不属于")
    # return accepted, nothing redispatched: back with the hotline, a new run of its own clock.
    rs.decide_return(r, actor=operator, now=step(), accept=True, comment="同意退回")
    assert t.status == "open"
    assert_a_clock_runs(t)
    assert t.dispatch_started_at == at and t.dispatch_due_at == sla.deadline("P3", "dispatch", at)
    # return accepted and redispatched: referred again.
    r2 = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=step())
    rs.request_return(r2, actor=civil_staff, now=step(), reason="not_our_remit", comment="应由卫健处理")
    r3 = rs.decide_return(r2, actor=operator, now=step(), accept=True, comment="改派", redispatch_to=health)
    assert t.status == "referred"
    assert_a_clock_runs(t)
    # cancelled, no referral left: back with the hotline.
    rs.cancel_referral(r3, actor=operator, now=step(), reason="来电人已自行解决部分问题")
    assert t.status == "open"
    assert_a_clock_runs(t)
    assert t.dispatch_started_at == at
    # extension asked and approved; paused and resumed while referred.
    r4 = rs.dispatch_referral(t, department=health, role="lead", actor=operator, now=step())
    rs.acknowledge(r4, actor=health_staff, now=step())
    rs.add_progress(r4, actor=health_staff, now=step(), text="已入户", contacted=True)
    rs.request_extension(
        r4, actor=health_staff, now=step(), reason="等待鉴定", until=r4.resolve_due_at + timedelta(days=5)
    )
    rs.decide_extension(r4, actor=manager, now=step(), approve=True)
    assert_a_clock_runs(t)
    esc.pause_clocks(t, actor=operator, now=step(), reason="等材料")
    assert_a_clock_runs(t)
    esc.resume_clocks(t, actor=operator, now=step())
    assert_a_clock_runs(t)
    # all referrals resolved: waiting for the callback.
    rs.resolve(r4, actor=health_staff, now=step(), result="已办理", outcome="relief_granted")
    assert t.status == "pending_callback"
    assert_a_clock_runs(t)
    assert [s.clock for s in running(t)] == ["callback"]
    # a callback that did not reach the caller: the closing clock runs from it, and again from the next one.
    ts.record_callback(t, actor=operator, now=step(), reached=False)
    assert_a_clock_runs(t)
    assert [s.clock for s in running(t)] == ["close"]
    first_close = t.close_due_at
    ts.record_callback(t, actor=operator, now=step(24 * 60), reached=True, satisfaction=5)
    assert_a_clock_runs(t)
    assert t.close_due_at == sla.deadline("P3", "close", at) and t.close_due_at > first_close
    # paused while awaiting the callback.
    esc.pause_clocks(t, actor=operator, now=step(), reason="来电人外出")
    assert_a_clock_runs(t)
    esc.resume_clocks(t, actor=operator, now=step())
    # closed: no clock; reopened: the own clock again, from the reopening.
    ts.close_ticket(t, actor=operator, now=step())
    assert_a_clock_runs(t)
    ts.reopen_ticket(t, actor=operator, now=step(), reason="救助款未到位")
    assert_a_clock_runs(t)
    assert t.dispatch_started_at == at
    # answered directly: the callback clock.
    ts.resolve_directly(t, actor=operator, now=step(), answer="已告知申请流程")
    assert_a_clock_runs(t)
    assert [s.clock for s in running(t)] == ["callback"]
    # referred again from pending callback, then the referral is resolved: a new callback run.
    r5 = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=step())
    assert_a_clock_runs(t)
    rs.acknowledge(r5, actor=civil_staff, now=step())
    rs.resolve(r5, actor=civil_staff, now=step(), result="已发放", outcome="relief_granted")
    assert_a_clock_runs(t)
    assert t.callback_due_at == sla.deadline("P3", "callback", at)

    # a paused P2 raised to P1: 救急难 clocks never pause, they run again at once.
    u = log_p2(operator, step())
    esc.pause_clocks(u, actor=operator, now=step(), reason="等材料")
    ts.change_priority(u, actor=operator, now=step(), priority="P1", reason="老人病重")
    assert u.paused_at is None
    assert_a_clock_runs(u)
    assert u.dispatch_due_at == u.dispatch_started_at + timedelta(minutes=30)
    # merged: not open, no clock.
    ts.merge_ticket(u, actor=operator, now=step(), target=t, reason="同一事项")
    assert_a_clock_runs(u)
    assert_a_clock_runs(t)
    db.session.commit()


def test_an_unclaimed_ticket_already_contacted_still_runs_the_own_clock(app, now):
    """First contact met (the clock of reaching the person) leaves the hotline's own clock running until taken
    and dispatched or answered."""
    t = ts.build_unclaimed_ticket(now=now, channel="sms", summary="咨询", priority="P3")
    t.first_contact_at = now + MINUTE
    clocks.sync_ticket(t, now + MINUTE)
    assert [s.clock for s in clocks.ticket_spans(t)] == ["dispatch"]
    assert t.next_deadline_at == sla.deadline("P3", "dispatch", now) and t.next_escalation_at is not None


def test_a_priority_without_a_pause_review_cannot_pause(app, operator, now):
    policy = sla.sla_policy()
    clocks_p3 = dict(policy.clocks["P3"])
    del clocks_p3["pause_review"]
    app.extensions["hotline_policy"]["sla"] = sla.SlaPolicy(
        clocks={**policy.clocks, "P3": clocks_p3},
        max_extension=policy.max_extension,
        ladder=policy.ladder,
        advance_relief_limit_yuan=policy.advance_relief_limit_yuan,
        office_periods=policy.office_periods,
        unit_sms=policy.unit_sms,
    )
    t = log_p2(operator, now, priority="P3")
    with pytest.raises(DomainError, match="暂停复核"):
        esc.pause_clocks(t, actor=operator, now=now, reason="等材料")
    assert t.paused_at is None


def _choices(t: Ticket, units) -> list[tuple[str, object]]:
    """What can be done to ``t`` now: (action, referral or None). A service may still refuse (a rule the
    walk does not model, such as four eyes on a return); the walk then moves on."""
    active = [r for r in t.referrals if r.is_active]
    out: list[tuple[str, object]] = []
    if t.status == "new":
        out.append(("take", None))
    if t.status in ("open", "referred", "pending_callback") and len(active) < len(units):
        out += [("dispatch", None)] * 2
    for r in active:
        if r.status == "dispatched":
            out += [("acknowledge", r), ("acknowledge", r), ("request_return", r), ("cancel", r)]
        elif r.status in ("acknowledged", "in_progress"):
            out += [("resolve", r), ("resolve", r), ("request_return", r), ("cancel", r)]
            if r.extension_state == "none":
                out.append(("extension", r))
        elif r.status == "return_requested":
            out += [("accept_return", r), ("reject_return", r), ("resolve", r)]
    if t.status == "open" and not active:
        out.append(("resolve_directly", None))
    if t.status in ("open", "pending_callback"):
        out += [("callback_reached", None), ("callback_not_reached", None), ("close", None)]
    if t.status == "closed":
        out.append(("reopen", None))
    if t.status in OPEN_STATUSES:
        out.append(("priority", None))
        if t.paused_at is not None:
            out.append(("resume", None))
        elif t.priority in ("P2", "P3"):
            out.append(("pause", None))
    return out


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    start=st.sampled_from(["new", "P1", "P2", "P3"]),
    steps=st.integers(min_value=5, max_value=40),
    rnd=st.randoms(use_true_random=False),
)
def test_any_sequence_of_actions_keeps_a_clock_on_an_open_ticket(
    app, operator, manager, civil, civil_staff, health, health_staff, now, start, steps, rnd
):
    """A random walk through whatever can be done to one ticket, the invariant checked after every step."""
    units = [(civil, civil_staff), (health, health_staff)]
    at = now
    if start == "new":
        t = ts.open_unclaimed_ticket(now=at, channel="sms", phone="13900001111", summary="求助", priority="P2")
    else:
        t = log_p2(operator, at, priority=start)
    db.session.commit()
    assert_a_clock_runs(t)
    for _ in range(steps):
        choices = _choices(t, units)
        if not choices:
            break
        action, referral = rnd.choice(choices)
        at += timedelta(minutes=rnd.randint(1, 600))
        try:
            with db.session.begin_nested():
                _act(action, t, referral, units, operator, manager, at, rnd.choice(["P1", "P2", "P3"]))
        except DomainError:
            continue
        db.session.commit()
        assert_a_clock_runs(t)


def _act(action, t, r, units, operator, manager, at, priority):
    """One step of the walk, through the service a person would use."""
    staff = {unit.id: user for unit, user in units}
    if action == "dispatch":
        taken = {x.department_id for x in t.referrals if x.is_active}
        unit = next(u for u, _s in units if u.id not in taken)
        role = "assist" if any(x.role == "lead" and x.is_active for x in t.referrals) else "lead"
        rs.dispatch_referral(t, department=unit, role=role, actor=manager, now=at)
    elif action == "take":
        ts.take_ticket(t, actor=operator, now=at)
    elif action == "pause":
        esc.pause_clocks(t, actor=manager, now=at, reason="等材料")
    elif action == "resume":
        esc.resume_clocks(t, actor=manager, now=at)
    elif action == "priority":
        ts.change_priority(t, actor=manager, now=at, priority=priority, reason="重新评估")
    elif action == "resolve_directly":
        ts.resolve_directly(t, actor=manager, now=at, answer="已答复")
    elif action == "close":
        ts.close_ticket(t, actor=manager, now=at, resolution="已办结")
    elif action == "reopen":
        ts.reopen_ticket(t, actor=manager, now=at, reason="来电人不满意")
    elif action.startswith("callback"):
        reached = action == "callback_reached"
        ts.record_callback(t, actor=manager, now=at, reached=reached, satisfaction=4 if reached else None)
    elif action == "acknowledge":
        rs.acknowledge(r, actor=staff[r.department_id], now=at)
    elif action == "request_return":
        rs.request_return(r, actor=staff[r.department_id], now=at, reason="other", comment="不属于本单位")
    elif action == "accept_return":
        rs.decide_return(r, actor=manager, now=at, accept=True, comment="同意")
    elif action == "reject_return":
        rs.decide_return(r, actor=manager, now=at, accept=False, comment="请继续办理")
    elif action == "cancel":
        rs.cancel_referral(r, actor=manager, now=at, reason="撤回")
    elif action == "resolve":
        rs.resolve(r, actor=staff[r.department_id], now=at, result="已办理", outcome="other")
    else:
        if r.resolve_due_at <= at:
            raise DomainError("too late to extend")
        until = r.resolve_due_at + timedelta(days=3)
        rs.request_extension(r, actor=staff[r.department_id], now=at, reason="等鉴定", until=until)
        rs.decide_extension(r, actor=manager, now=at, approve=True)


# --- the own clock escalates, and again on each run --------------------------------------------


def ladder(ticket: Ticket, clock: str) -> dict[str, object]:
    start, due = getattr(ticket, f"{clock}_started_at", None), getattr(ticket, f"{clock}_due_at")
    return {s.level: s.at for s in sla.ladder_steps(ticket.priority, clock, start, due)}


def own_steps(ticket: Ticket) -> list[tuple]:
    return db.session.execute(
        select(EscalationStep.clock, EscalationStep.level, EscalationStep.started_at)
        .where(EscalationStep.ticket_id == ticket.id, EscalationStep.referral_key == 0)
        .order_by(EscalationStep.due_at)
    ).all()


def test_an_owned_p2_ticket_with_no_referral_is_urged_then_supervised(app, operator, manager, now):
    # Thursday 2025-10-09 12:00 Shanghai, lunch: the working day counts from 14:00.
    t = log_p2(operator, now)
    db.session.commit()
    steps = ladder(t, "dispatch")
    assert steps["urge"] == t.dispatch_due_at == sla.deadline("P2", "dispatch", now)
    assert sweep(now=steps["urge"] - MINUTE)["by_level"] == {"warn": 1}
    assert sweep(now=steps["urge"])["by_level"] == {"urge": 1}
    assert sweep(now=steps["supervise"] - MINUTE)["steps_written"] == 0
    assert sweep(now=steps["supervise"])["by_level"] == {"supervise": 1}
    assert [(c, lv) for c, lv, _s in own_steps(t)] == [
        ("dispatch", "warn"),
        ("dispatch", "urge"),
        ("dispatch", "supervise"),
    ]
    db.session.refresh(t)
    assert t.escalation_level == "supervise"
    manager_kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == manager.id)).all()
    assert manager_kinds == ["escalation_supervise"]
    owner_kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == operator.id)).all()
    assert owner_kinds == ["escalation_warn", "escalation_urge", "escalation_supervise"]


def test_a_clock_that_runs_again_climbs_the_ladder_again(app, operator, civil, civil_staff, now):
    t = log_p2(operator, now)
    db.session.commit()
    first = ladder(t, "dispatch")
    sweep(now=first["urge"])
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=first["urge"] + MINUTE)
    rs.request_return(r, actor=civil_staff, now=first["urge"] + 2 * MINUTE, reason="not_our_remit", comment="不属于")
    back = first["urge"] + 3 * MINUTE
    rs.decide_return(r, actor=operator, now=back, accept=True, comment="同意")
    db.session.commit()
    second = ladder(t, "dispatch")
    assert t.dispatch_started_at == back and second["urge"] > back
    sweep(now=second["urge"])
    assert [(lv, started) for _c, lv, started in own_steps(t)] == [
        ("warn", now),
        ("urge", now),
        ("warn", back),
        ("urge", back),
    ]


def test_a_callback_reopened_and_resolved_again_is_urged_again(app, operator, now):
    t = log_p2(operator, now)
    ts.resolve_directly(t, actor=operator, now=now, answer="已答复")
    db.session.commit()
    sweep(now=t.callback_due_at)
    ts.record_callback(t, actor=operator, now=t.callback_due_at + MINUTE, reached=True, satisfaction=4)
    ts.close_ticket(t, actor=operator, now=t.callback_due_at + 2 * MINUTE)
    again = t.callback_due_at + 3 * MINUTE
    ts.reopen_ticket(t, actor=operator, now=again, reason="需求又出现")
    ts.resolve_directly(t, actor=operator, now=again, answer="再次答复")
    db.session.commit()
    sweep(now=t.callback_due_at)
    urged = [started for clock, level, started in own_steps(t) if (clock, level) == ("callback", "urge")]
    assert urged == [now, again]


def test_a_long_pause_is_reviewed_on_the_ladder(app, operator, manager, now):
    t = log_p2(operator, now)
    esc.pause_clocks(t, actor=operator, now=now, reason="等来电人补充材料")
    db.session.commit()
    review = {s.level: s.at for s in sla.ladder_steps("P2", "pause_review", now, t.pause_review_due_at)}
    sweep(now=review["supervise"])
    assert [(c, lv) for c, lv, _s in own_steps(t)] == [
        ("pause_review", "warn"),
        ("pause_review", "urge"),
        ("pause_review", "supervise"),
    ]
    # The paused dispatch clock wrote nothing meanwhile.
    assert db.session.scalar(select(func.count()).where(EscalationStep.clock == "dispatch")) == 0


# --- catch-up after downtime: one notice per person and ticket ----------------------------------


@pytest.mark.parametrize("batch_size", [1000, 1])
def test_a_catch_up_sweep_tells_each_person_once_per_ticket(
    app, operator, manager, civil, civil_staff, now, batch_size
):
    tickets = []
    for i in range(6):
        t = ts.log_call(
            actor=operator,
            now=now,
            phone=f"1381234{i:04d}",
            category="accident_disaster",
            priority="P1",
            summary=f"房屋失火{i}",
        )
        rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now)
        tickets.append(t)
    db.session.commit()
    texts_before = db.session.scalar(select(func.count(OutboundMessage.id)))
    # Ten days down: acknowledge, resolve and advance relief climbed their whole ladders (12 steps a ticket).
    report = sweep(now=now + timedelta(days=10), batch_size=batch_size)
    assert report["steps_written"] == 6 * 12
    assert db.session.scalar(select(func.count(EscalationStep.id))) == 6 * 12
    events = db.session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.kind.like("escalation_%")))
    assert events == 6 * 12  # the timeline keeps every step
    per_person = Counter(db.session.execute(select(Notification.user_id, Notification.ticket_id)).all())
    assert set(per_person.values()) == {1}
    assert {uid for uid, _t in per_person} == {operator.id, manager.id, civil_staff.id}
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == manager.id)) == 6
    # The manager's notice lists the 督办 and 个案会商 of the three clocks, highest level first.
    note = db.session.scalars(
        select(Notification).where(Notification.user_id == manager.id, Notification.ticket_id == tickets[0].id)
    ).one()
    assert note.kind == "escalation_case_conference"
    assert [s["level"] for s in note.payload["steps"]] == ["case_conference"] * 3 + ["supervise"] * 3
    assert {s["clock"] for s in note.payload["steps"]} == {"acknowledge", "resolve", "advance_relief"}
    # One text to the unit's duty phone per referral, though both its clocks were urged.
    texts = db.session.scalars(
        select(OutboundMessage.body).where(
            OutboundMessage.to_number == "+8613900000001", OutboundMessage.body.like("%催办%")
        )
    ).all()
    assert db.session.scalar(select(func.count(OutboundMessage.id))) - texts_before == len(texts) == 6


def test_the_notification_list_shows_the_digest(app, client, manager, operator, civil, now):
    t = ts.log_call(
        actor=operator, now=now, phone="13812340000", category="accident_disaster", priority="P1", summary="房屋失火"
    )
    rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    sweep(now=now + timedelta(days=10))
    login(client, manager.username)
    html = client.get("/notifications").get_data(as_text=True)
    assert html.count(f'href="/tickets/{t.number}"') == 1
    assert "个案会商" in html and "共6步" in html and "县民政局" in html


# --- the ticket page and the demo --------------------------------------------------------------


def test_the_ticket_page_shows_the_running_own_clock(app, client, operator, now):
    t = log_p2(operator, now)
    db.session.commit()
    login(client, operator.username)
    html = client.get(f"/tickets/{t.number}").get_data(as_text=True)
    assert "派单/答复时限" in html
    assert "当前没有计时" not in html


def test_every_open_demo_ticket_has_a_next_deadline(app, client, now):
    load_demo(now=now)
    db.session.commit()
    open_tickets = db.session.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))).all()
    assert len(open_tickets) > 30
    assert sum(t.next_deadline_at is None for t in open_tickets) == 0
    for t in open_tickets:
        assert_a_clock_runs(t)
    # And none of their pages says that no clock runs.
    login(client, "operator1", "hotline-demo")
    for t in open_tickets:
        html = client.get(f"/tickets/{t.number}").get_data(as_text=True)
        assert "当前没有计时" not in html, t.number


def test_the_bulk_demo_runs_the_same_clocks(app, now):
    """The bulk loader writes what the services and the sweep would have: a deadline on every open ticket,
    the own clock's start where it runs, and steps a sweep right after does not write again."""
    from hotline.demo import load_bulk_demo

    load_bulk_demo(now=now, tickets=800, days=60, echo=lambda _line: None)
    open_tickets = select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
    assert db.session.scalar(select(func.count()).select_from(open_tickets.subquery())) > 20
    assert (
        db.session.scalar(
            select(func.count()).where(Ticket.status.in_(OPEN_STATUSES), Ticket.next_deadline_at.is_(None))
        )
        == 0
    )
    for t in db.session.scalars(open_tickets.where(Ticket.status.in_(("new", "open")))):
        assert t.dispatch_started_at is not None and t.dispatch_due_at is not None, t.number
    written = db.session.scalar(select(func.count(EscalationStep.id)))
    assert written > 0
    report = sweep(now=now)
    assert db.session.scalar(select(func.count(EscalationStep.id))) == written + report["steps_written"]
    assert report["steps_written"] == 0


def test_sync_clocks_starts_the_own_clock_of_tickets_written_before_it(app, runner, operator, civil, civil_staff, now):
    """Before 0008 an open P2/P3 ticket ran no clock: the command starts it from the ticket's history."""
    quiet = log_p2(operator, now)
    returned = log_p2(operator, now)
    r = rs.dispatch_referral(returned, department=civil, role="lead", actor=operator, now=now + MINUTE)
    rs.request_return(r, actor=civil_staff, now=now + 2 * MINUTE, reason="not_our_remit", comment="不属于")
    back = now + 3 * MINUTE
    rs.decide_return(r, actor=operator, now=back, accept=True, comment="同意")
    for t in (quiet, returned):  # as the clocks before 0008 left them
        t.dispatch_started_at = t.dispatch_due_at = t.next_deadline_at = t.next_escalation_at = None
    db.session.commit()
    later = now + timedelta(days=20)
    result = runner.invoke(args=["hotline", "sync-clocks", "--now", later.isoformat()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"checked": 2, "changed": 2}
    db.session.expire_all()
    assert quiet.dispatch_started_at == now and returned.dispatch_started_at == back
    assert quiet.next_deadline_at == sla.deadline("P2", "dispatch", now)
    assert_a_clock_runs(quiet)
    assert_a_clock_runs(returned)
    # The next sweep catches up: the whole ladder of each, one notification per ticket to its owner.
    assert sweep(now=later)["by_level"] == {"warn": 2, "urge": 2, "supervise": 2, "case_conference": 2}
    escalations = select(func.count(Notification.id)).where(
        Notification.user_id == operator.id, Notification.kind.like("escalation_%")
    )
    assert db.session.scalar(escalations) == 2
    again = runner.invoke(args=["hotline", "sync-clocks", "--now", later.isoformat()])
    assert json.loads(again.output) == {"checked": 2, "changed": 0}


def test_resume_moves_running_clocks_by_their_own_paused_time_only(app, operator, civil, now):
    # Thursday 12:00 Shanghai. An SMS taken and its caller reached: first contact met, its deadline kept.
    t = ts.open_unclaimed_ticket(now=now, channel="sms", phone="13900001111", summary="家里没米了", priority="P2")
    ts.take_ticket(t, actor=operator, now=now + MINUTE)
    ts.record_callback(t, actor=operator, now=now + 2 * MINUTE, reached=True, satisfaction=4)
    met = t.first_contact_due_at
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now + 3 * MINUTE)
    paused = now + timedelta(hours=2)  # Thursday 14:00
    esc.pause_clocks(t, actor=operator, now=paused, reason="等来电人补充材料")
    # Friday 10:00, still paused: the referral is withdrawn and the ticket is back with the hotline.
    back = now + timedelta(hours=22)
    rs.cancel_referral(r, actor=operator, now=back, reason="来电人另有安排")
    assert t.dispatch_started_at == back
    restarted_due = t.dispatch_due_at
    resumed = now + timedelta(hours=24)  # Friday 12:00: paused 7 working hours in all, 2 of them since `back`
    esc.resume_clocks(t, actor=operator, now=resumed)
    calendar = sla.working_calendar()
    assert calendar.working_time_between(paused, resumed) == timedelta(hours=7)
    assert t.dispatch_due_at == calendar.add_working_duration(restarted_due, timedelta(hours=2))
    assert t.first_contact_due_at == met


def test_closing_a_paused_ticket_ends_its_pause(app, operator, now):
    t = log_p2(operator, now)
    esc.pause_clocks(t, actor=operator, now=now, reason="等材料")
    ts.close_ticket(t, actor=operator, now=now + MINUTE, resolution="来电人已自行解决")
    assert t.paused_at is None and t.pause_review_due_at is None
    ts.reopen_ticket(t, actor=operator, now=now + 2 * MINUTE, reason="问题又出现")
    assert_a_clock_runs(t)
    assert [s.clock for s in running(t)] == ["dispatch"]
