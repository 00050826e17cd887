"""Escalation: the ladder on explicit times, written once, caught up after downtime, by hand, paused."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from hotline.errors import DomainError, NotAllowed
from hotline.escalation import service as esc
from hotline.escalation.sweep import sweep
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from models.escalation import EscalationStep
from models.notification import Notification
from models.outbox import OutboundMessage
from models.ticket import Ticket, TicketEvent


def p1_referral(operator, civil, now):
    """A P1 walk-in logged at ``now`` and referred at once: acknowledge due in one hour."""
    t = ts.log_call(
        actor=operator,
        now=now,
        phone="13812341234",
        category="accident_disaster",
        priority="P1",
        summary="房屋失火",
        channel="walk_in",
    )
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    return t, r


def steps(**where):
    stmt = select(EscalationStep.clock, EscalationStep.level)
    for key, value in where.items():
        stmt = stmt.where(getattr(EscalationStep, key) == value)
    return sorted(db.session.execute(stmt.order_by(EscalationStep.due_at)).all())


def test_ladder_on_a_p1_acknowledge_clock(app, operator, civil, civil_staff, manager, now):
    t, r = p1_referral(operator, civil, now)
    assert sweep(now=now + timedelta(minutes=44))["steps_written"] == 0
    assert sweep(now=now + timedelta(minutes=45))["by_level"] == {"warn": 1}
    assert steps(referral_key=r.id) == [("acknowledge", "warn")]
    report = sweep(now=now + timedelta(hours=1))
    assert report["by_level"] == {"urge": 1}
    # 催办 on a P1 referral texts the unit's duty phone.
    texts = db.session.scalars(select(OutboundMessage.body).where(OutboundMessage.to_number == "+8613900000001")).all()
    assert any("催办" in body for body in texts)
    assert sweep(now=now + timedelta(hours=2))["by_level"] == {"supervise": 1}
    assert sweep(now=now + timedelta(hours=3))["by_level"] == {"case_conference": 1}
    db.session.refresh(t)
    assert t.escalation_level == "case_conference"
    # The manager heard of the 督办 and the 个案会商; the unit of the warning and the urge.
    manager_kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == manager.id)))
    assert manager_kinds == {"escalation_supervise", "escalation_case_conference"}
    staff_kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == civil_staff.id)))
    assert {"escalation_warn", "escalation_urge"} <= staff_kinds


def test_a_replayed_sweep_writes_nothing(app, operator, civil, now):
    p1_referral(operator, civil, now)
    at = now + timedelta(hours=1, minutes=5)
    first = sweep(now=at)
    assert first["steps_written"] == 2
    assert sweep(now=at)["steps_written"] == 0
    events = db.session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.kind.like("escalation_%")))
    assert events == 2


def test_catch_up_after_downtime_writes_every_missed_step_once_in_due_order(app, operator, civil, now):
    _t, r = p1_referral(operator, civil, now)
    report = sweep(now=now + timedelta(hours=5))
    assert report["by_level"] == {"warn": 1, "urge": 1, "supervise": 1, "case_conference": 1}
    kinds = db.session.scalars(
        select(TicketEvent.kind)
        .where(TicketEvent.referral_id == r.id, TicketEvent.kind.like("escalation_%"))
        .order_by(TicketEvent.id)
    ).all()
    assert kinds == ["escalation_warn", "escalation_urge", "escalation_supervise", "escalation_case_conference"]
    assert sweep(now=now + timedelta(hours=6))["steps_written"] == 0


def test_acknowledging_in_time_stops_the_acknowledge_ladder(app, operator, civil, civil_staff, now):
    t, r = p1_referral(operator, civil, now)
    rs.acknowledge(r, actor=civil_staff, now=now + timedelta(minutes=30))
    db.session.commit()
    assert sweep(now=now + timedelta(hours=5))["steps_written"] == 0
    # The resolve clock (3 days) still runs: 75 % of it is 54 hours.
    sweep(now=now + timedelta(hours=54))
    assert steps(referral_key=r.id) == [("resolve", "warn")]
    # Meanwhile the ticket's own P1 advance-relief clock (24 h, never granted) climbed its ladder.
    assert steps(ticket_id=t.id, referral_key=0) == [
        ("advance_relief", "supervise"),
        ("advance_relief", "urge"),
        ("advance_relief", "warn"),
    ]


def test_undispatched_p1_ticket_escalates_its_dispatch_clock(app, operator, now):
    t = ts.log_call(
        actor=operator, now=now, phone="13812341234", category="stranded_person", priority="P1", summary="车站滞留"
    )
    db.session.commit()
    assert t.dispatch_due_at == now + timedelta(minutes=30)
    assert t.first_contact_due_at is None  # the operator was talking with the person
    report = sweep(now=now + timedelta(minutes=31))
    assert report["by_level"] == {"warn": 1, "urge": 1}
    assert steps(ticket_id=t.id, referral_key=0) == [("dispatch", "urge"), ("dispatch", "warn")]
    # One sweep, one notification to the owner: the digest of both steps, the highest level first.
    (note,) = db.session.scalars(select(Notification).where(Notification.user_id == operator.id)).all()
    assert note.kind == "escalation_urge"
    assert [(s["clock"], s["level"]) for s in note.payload["steps"]] == [("dispatch", "urge"), ("dispatch", "warn")]


def test_sweep_cost_follows_what_is_due_not_what_is_open(app, operator, now):
    for i in range(20):
        ts.log_call(
            actor=operator,
            now=now,
            phone=f"1381234{i:04d}",
            category="education_aid",
            priority="P3",
            summary=f"咨询{i}",
        )
    db.session.commit()
    report = sweep(now=now + timedelta(minutes=1))
    assert report == {**report, "steps_written": 0, "tickets_checked": 0, "referrals_checked": 0}


def test_pause_moves_p2_deadlines_by_the_paused_working_time(app, operator, civil, civil_staff, now):
    # now: Thursday 2025-10-09 12:00 Shanghai (lunch); P2 acknowledge = 4 working hours.
    t = ts.log_call(actor=operator, now=now, phone="13812341234", category="subsistence", priority="P2", summary="低保")
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    due = r.acknowledge_due_at
    esc.pause_clocks(t, actor=operator, now=now, reason="等来电人补充材料")
    db.session.commit()
    # Only the pause's own review runs (5 working days for P2): the queue still sees a deadline.
    assert r.next_escalation_at is None and t.next_deadline_at == t.pause_review_due_at
    assert sweep(now=now + timedelta(days=3))["by_level"] == {}
    # Resumed Friday 10:00: paused over Thursday 14:00-17:30 and Friday 08:30-10:00 = 5 working hours.
    esc.resume_clocks(t, actor=operator, now=now + timedelta(hours=22))
    db.session.commit()
    db.session.refresh(r)
    assert r.acknowledge_due_at > due
    event = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "clocks_resumed")).one()
    assert event.payload["paused_working_hours"] == 5.0


def test_p1_clocks_never_pause(app, operator, civil, now):
    t, _r = p1_referral(operator, civil, now)
    with pytest.raises(DomainError):
        esc.pause_clocks(t, actor=operator, now=now, reason="等材料")


def test_manager_supervises_by_hand_once(app, operator, manager, civil, civil_staff, now):
    t, _r = p1_referral(operator, civil, now)
    with pytest.raises(NotAllowed):
        esc.supervise(t, actor=operator, now=now, reason="x")
    esc.supervise(t, actor=manager, now=now, reason="媒体关注，需加快办理")
    db.session.commit()
    assert t.escalation_level == "supervise"
    assert db.session.scalar(select(Notification.kind).where(Notification.user_id == civil_staff.id)) == "supervised"
    with pytest.raises(DomainError):
        esc.supervise(t, actor=manager, now=now, reason="again")


def test_sweep_command_prints_what_it_did_and_writes_nothing_the_second_time(app, runner, operator, civil, now):
    p1_referral(operator, civil, now)
    at = (now + timedelta(hours=1)).isoformat()
    first = json.loads(runner.invoke(args=["hotline", "sweep", "--now", at]).output)
    assert first["steps_written"] == 2
    second = json.loads(runner.invoke(args=["hotline", "sweep", "--now", at]).output)
    assert second["steps_written"] == 0


def test_healthz_reports_database_and_heartbeat(app, client, operator, civil, now):
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["sweep_heartbeat_age_seconds"] is None and body["sweep_stale"] is True
    sweep(now=now)
    body = client.get("/healthz").get_json()
    assert body["sweep_heartbeat_age_seconds"] is not None


def test_manager_pages_warn_when_the_sweep_is_late(app, client, logged_in, manager, now):
    logged_in(manager)
    html = client.get("/desk").get_data(as_text=True)
    assert 'class="warnings"' in html and "调度程序从未运行" in html
    from hotline.timeutil import utcnow

    sweep(now=utcnow())
    # Other warnings (a working calendar to load) may stand; the scheduler's is gone.
    assert "调度程序" not in client.get("/desk").get_data(as_text=True)


def _due_tickets(count: int, now):
    """``count`` P1 tickets whose 30-minute dispatch clock started 25 minutes ago: one warn step each."""
    start = now - timedelta(minutes=25)
    rows = [
        {
            "number": f"T{i:09d}",
            "channel": "voice",
            "category": "other",
            "priority": "P1",
            "summary": "bulk",
            "status": "open",
            "confidential": False,
            "sensitive": False,
            "mandatory_report": False,
            "created_at": start,
            "updated_at": start,
            "first_contact_at": start,
            "advance_relief_at": start,
            "dispatch_started_at": start,
            "dispatch_due_at": start + timedelta(minutes=30),
            "next_deadline_at": start + timedelta(minutes=30),
            "next_escalation_at": start + timedelta(minutes=22, seconds=30),
            "version": 1,
        }
        for i in range(count)
    ]
    db.session.execute(insert(Ticket), rows)
    db.session.commit()


def test_two_sweepers_at_once_write_every_step_once(app, now):
    count = 10_000
    _due_tickets(count, now)
    reports, errors = [], []

    def run():
        with app.app_context():
            try:
                reports.append(sweep(now=now))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert not errors
    assert sum(r["steps_written"] for r in reports) == count
    assert db.session.scalar(select(func.count(EscalationStep.id))) == count
    events = db.session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.kind == "escalation_warn"))
    assert events == count
