"""Household visits (探访): plans from visits.toml, visits recorded, the overdue ladder, the one-tap ticket."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.grid import visits
from hotline.grid.policy import VisitPolicyError, load_visit_policy
from hotline.timeutil import utcnow
from models.audit import AuditLog
from models.external_report import ExternalReport
from models.notification import Notification
from models.ticket import TicketEvent
from models.visit import VisitEscalation, VisitPlan
from tests.conftest import PASSWORD, csrf_token
from tests.grid_helpers import (
    field_fixture,  # noqa: F401  (the ``field`` fixture)
    household,
)

POLICY = "config/policy/visits.toml"


def plan_of(contact) -> VisitPlan | None:
    return db.session.scalar(select(VisitPlan).where(VisitPlan.contact_id == contact.id))


def local_midnight(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)


def test_a_household_is_visited_as_often_as_its_shortest_matching_rule(field, now):
    alone = household(field.village, now, is_elderly=True, lives_alone=True, social_assistance=True)
    assistance = household(field.village, now, name="赵敏", social_assistance=True)
    children = household(field.village, now, name="刘淑芬", left_behind_children=True)
    nobody = household(field.village, now, name="李明")
    assert (plan_of(alone).rule, plan_of(alone).interval_days) == ("elderly_alone", 30)
    assert (plan_of(assistance).rule, plan_of(assistance).interval_days) == ("social_assistance", 90)
    assert plan_of(children).interval_days == 30
    assert plan_of(nobody) is None
    # Due one interval after the plan began (2025-10-09 in Asia/Shanghai); the ladder's first step is next.
    assert plan_of(alone).next_due_on == date(2025, 11, 8)
    assert plan_of(alone).next_escalation_at == local_midnight(date(2025, 11, 9))
    assert plan_of(alone).village_id == field.village.id


def test_a_flag_removed_retires_the_plan_and_a_changed_one_changes_the_interval(field, now):
    contact = household(field.village, now, is_elderly=True)
    assert plan_of(contact).interval_days == 90
    contact.lives_alone = True
    visits.plan_household(contact, now=now + timedelta(days=1))
    assert (plan_of(contact).rule, plan_of(contact).next_due_on) == ("elderly_alone", date(2025, 11, 8))
    contact.is_elderly = contact.lives_alone = False
    assert visits.plan_household(contact, now=now + timedelta(days=2)) is None
    assert plan_of(contact).active is False and plan_of(contact).next_escalation_at is None
    kinds = db.session.scalars(select(AuditLog.kind).where(AuditLog.target == str(contact.id))).all()
    assert kinds == ["visit_plan_saved"] * 3


def test_a_recorded_visit_sets_the_next_due_date_and_is_audited(field, now):
    contact = household(field.village, now, is_elderly=True, lives_alone=True)
    plan = plan_of(contact)
    later = now + timedelta(days=20)
    visit = visits.record_visit(
        plan, visitor=field.grid_worker, now=later, seen=True, condition="身体尚可", needs="想要一个助听器"
    )
    db.session.commit()
    assert visit.due_on == date(2025, 11, 8)
    assert plan.next_due_on == date(2025, 11, 28)  # 2025-10-29 + 30 days
    assert plan.last_visit_at == later
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "visit_recorded"))
    assert entry.actor_id == field.grid_worker.id and entry.payload["seen"] is True


def test_only_staff_of_the_village_its_grids_and_township_record_a_visit(field, now, make_department, make_user):
    plan = plan_of(household(field.village, now, is_elderly=True))
    for user in (field.village_staff, field.grid_worker, field.town_staff):
        visits.record_visit(plan, visitor=user, now=now, seen=False, condition="不在家，邻居说去女儿家了")
    other_town = make_department("town_hekou", "河口乡", "township", "township")
    stranger = make_user("department", department=other_town)
    for user in (field.bureau_staff, stranger):
        with pytest.raises(NotAllowed):
            visits.record_visit(plan, visitor=user, now=now, seen=True, condition="x")
    with pytest.raises(DomainError, match="身体和生活状况"):
        visits.record_visit(plan, visitor=field.village_staff, now=now, seen=True, condition="  ")


def _steps(plan) -> list[tuple]:
    rows = db.session.execute(
        select(VisitEscalation.due_on, VisitEscalation.level).where(VisitEscalation.plan_id == plan.id)
    )
    return sorted((due.isoformat(), level) for due, level in rows)


def _notices(user) -> list[str]:
    return db.session.scalars(
        select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.id)
    ).all()


def test_an_overdue_visit_climbs_the_ladder_each_step_once(field, now, manager):
    plan = plan_of(household(field.village, now, is_elderly=True, lives_alone=True))  # due 2025-11-08
    before = visits.sweep_visits(now=local_midnight(date(2025, 11, 9)) - timedelta(seconds=1))
    assert before["steps_written"] == 0
    day_after = local_midnight(date(2025, 11, 9)) + timedelta(minutes=30)
    assert visits.sweep_visits(now=day_after)["by_level"] == {"warn": 1}
    assert visits.sweep_visits(now=day_after)["steps_written"] == 0  # a replayed sweep writes nothing
    db.session.expire_all()
    assert plan.escalation_level == "warn"
    assert _notices(field.village_staff) == ["visit_warn"] and _notices(field.grid_worker) == ["visit_warn"]
    assert _notices(field.town_staff) == []
    week = local_midnight(date(2025, 11, 15)) + timedelta(hours=9)
    assert visits.sweep_visits(now=week)["by_level"] == {"urge": 1}
    assert _notices(field.town_staff) == ["visit_urge"]
    month = local_midnight(date(2025, 12, 8)) + timedelta(hours=9)
    assert visits.sweep_visits(now=month)["by_level"] == {"supervise": 1}
    assert visits.sweep_visits(now=month + timedelta(days=30))["steps_written"] == 0
    assert _steps(plan) == [("2025-11-08", "supervise"), ("2025-11-08", "urge"), ("2025-11-08", "warn")]
    assert _notices(manager) == ["visit_supervise"]
    assert _notices(field.bureau_staff) == []
    db.session.expire_all()
    assert plan.escalation_level == "supervise" and plan.next_escalation_at is None
    notice = db.session.scalar(select(Notification).where(Notification.user_id == manager.id))
    assert notice.payload == {"household": "王秀英", "village": "东关社区", "due_on": "2025-11-08", "days": 30}


def test_after_downtime_the_sweep_catches_up_and_a_visit_starts_a_new_run(field, now):
    plan = plan_of(household(field.village, now, is_elderly=True, lives_alone=True))
    late = local_midnight(date(2025, 12, 20))
    assert visits.sweep_visits(now=late)["by_level"] == {"warn": 1, "urge": 1, "supervise": 1}
    db.session.expire_all()
    visits.record_visit(plan, visitor=field.village_staff, now=late, seen=True, condition="已上门，老人安好")
    db.session.commit()
    assert plan.escalation_level is None and plan.next_due_on == date(2026, 1, 19)
    assert visits.sweep_visits(now=late + timedelta(days=5))["steps_written"] == 0
    assert visits.sweep_visits(now=local_midnight(date(2026, 1, 20)))["by_level"] == {"warn": 1}
    assert [s for s in _steps(plan) if s[0] == "2026-01-19"] == [("2026-01-19", "warn")]


def test_the_overdue_list_is_the_villages_and_its_townships(field, now):
    late = plan_of(household(field.village, now - timedelta(days=40), is_elderly=True, lives_alone=True))
    household(field.village, now, name="赵敏", social_assistance=True)  # not due for 90 days
    elsewhere = plan_of(household(field.other_village, now - timedelta(days=40), name="陈建国", lives_alone=True))
    assert elsewhere.interval_days == 60  # not overdue yet
    assert [p.id for p in visits.overdue_plans({field.village.id}, now=now, limit=5)] == [late.id]
    assert visits.overdue_count({field.village.id, field.other_village.id}, now=now) == 1


def test_a_visit_that_found_difficulty_becomes_a_ticket_in_one_tap(field, now):
    contact = household(field.village, now, is_elderly=True, lives_alone=True)
    contact.id_number = "610102194503150028"
    visit = visits.record_visit(
        plan_of(contact),
        visitor=field.grid_worker,
        now=now,
        seen=True,
        condition="轮椅坏了，两周没出门",
        needs="维修轮椅，代购降压药",
        difficulty=True,
    )
    received = visits.visit_ticket(visit, actor=field.grid_worker, now=now + timedelta(minutes=1))
    db.session.commit()
    ticket = received.ticket
    assert received.outcome == "created"
    assert (ticket.source, ticket.channel, ticket.status) == ("visit", "proactive", "new")
    assert ticket.contact_id == contact.id  # found by the household's ID number
    assert "维修轮椅" in ticket.summary and "王秀英" in ticket.summary
    assert "轮椅坏了" in ticket.description
    assert visit.ticket_id == ticket.id
    report = received.report
    assert (report.source, report.via, report.reporter_id) == ("visit", "visit", field.grid_worker.id)
    event = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "external_report"))
    assert event.actor_id == field.grid_worker.id
    again = visits.visit_ticket(visit, actor=field.village_staff, now=now + timedelta(minutes=2))
    db.session.commit()
    assert (again.outcome, again.ticket.id) == ("duplicate", ticket.id)
    assert db.session.scalar(select(func.count()).select_from(ExternalReport)) == 1


def test_a_malformed_visits_policy_stops_start_up_naming_the_key(tmp_path):
    text = Path(POLICY).read_text(encoding="utf-8")
    cases = {
        "days = 60": ("days = 0", "days"),
        'level = "urge"': ('level = "urgent"', "level"),
        "days_overdue = 7": ("days_overdue = 1", "days_overdue"),
        'urgent = "P1"': ('urgent = "P5"', "urgency"),
        "photo_max_kb = 900": ("photo_max_kb = -1", "photo_max_kb"),
    }
    for old, (new, key) in cases.items():
        assert old in text, old
        path = tmp_path / "visits.toml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(VisitPolicyError, match=key):
            load_visit_policy(path)
    shipped = load_visit_policy(Path(POLICY))
    assert [(s.level, s.days_overdue) for s in shipped.ladder] == [("warn", 1), ("urge", 7), ("supervise", 30)]


def test_managers_see_the_supervised_visits_on_their_supervision_page(client, field, manager, now):
    late = household(field.village, utcnow() - timedelta(days=70), is_elderly=True, lives_alone=True)
    household(field.village, utcnow() - timedelta(days=45), name="赵敏", is_elderly=True, lives_alone=True)
    visits.sweep_visits(now=utcnow())
    assert plan_of(late).escalation_level == "supervise"
    token = csrf_token(client, "/login")
    client.post("/login", data={"username": manager.username, "password": PASSWORD, "csrf_token": token})
    page = client.get("/supervision").get_data(as_text=True)
    assert "督办中的入户探访" in page and "王秀英" in page and "赵敏" not in page  # 赵敏 is urged, not supervised


def test_a_plan_active_again_catches_up_on_the_steps_it_missed_and_repeats_none(field, now):
    contact = household(field.village, now, is_elderly=True, lives_alone=True)  # due 2025-11-08
    plan = plan_of(contact)
    assert visits.sweep_visits(now=local_midnight(date(2025, 11, 10)))["by_level"] == {"warn": 1}
    contact.lives_alone = contact.is_elderly = False
    visits.plan_household(contact, now=now + timedelta(days=32))  # retired: nothing climbs meanwhile
    db.session.commit()
    assert visits.sweep_visits(now=local_midnight(date(2025, 11, 20)))["steps_written"] == 0
    contact.lives_alone = contact.is_elderly = True
    visits.plan_household(contact, now=now + timedelta(days=42))
    db.session.commit()
    assert plan.next_due_on == date(2025, 11, 8)
    assert visits.sweep_visits(now=local_midnight(date(2025, 11, 21)))["by_level"] == {"urge": 1}
    assert _steps(plan) == [("2025-11-08", "urge"), ("2025-11-08", "warn")]
