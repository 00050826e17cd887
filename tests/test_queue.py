"""The desk's queue order: what is overdue first, then danger to life (P0), then urgent (P1), then newest."""

from datetime import timedelta

from hotline.extensions import db
from hotline.tickets.queries import QueueFilters, queue_select
from tests.helpers import log_call


def test_overdue_then_p0_then_p1_then_newest(operator, now):
    def ticket(priority, minutes_ago, deadline_in, **extra):
        made = log_call(operator, now - timedelta(minutes=minutes_ago), priority=priority, phone=None, **extra)
        made.next_deadline_at = now + timedelta(minutes=deadline_in)
        return made

    old_p3 = ticket("P3", 300, 600, category="policy_enquiry")
    new_p3 = ticket("P3", 10, 600, category="policy_enquiry")
    p1 = ticket("P1", 200, 600)
    p0 = ticket("P0", 60, 600, emergency_service="120")
    newer_p1 = ticket("P1", 30, 600)
    overdue_p3 = ticket("P3", 400, -5, category="policy_enquiry")
    db.session.commit()

    order = [t.number for t in db.session.scalars(queue_select(operator, QueueFilters(scope="mine"), now=now))]
    expected = [overdue_p3, p0, newer_p1, p1, new_p3, old_p3]
    assert order == [t.number for t in expected]
