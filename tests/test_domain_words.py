"""Pages take the urgent priorities and the supervised levels from the models, as the services do."""

import re

from hotline.extensions import db
from tests.helpers import log_call


def row_classes(html: str, number: str) -> str:
    match = re.search(r'<tr class="([^"]*)">\s*<td><a href="/tickets/' + number, html)
    assert match, number
    return match.group(1)


def test_the_desk_marks_urgent_and_supervised_tickets(client, logged_in, operator, now):
    p1 = log_call(operator, now, priority="P1")
    p2 = log_call(operator, now, priority="P2", category="illness_hardship", phone=None)
    p2.escalation_level = "supervise"
    db.session.commit()
    html = logged_in(operator).get("/desk?scope=mine").get_data(as_text=True)
    assert "urgent" in row_classes(html, p1.number).split()
    assert "urgent" not in row_classes(html, p2.number).split()
    assert 'class="badge level-supervise"' in html
    assert "level-warn" not in html


def test_the_desk_link_is_for_the_hotline_staff(logged_in, operator):
    assert 'href="/desk"' in logged_in(operator).get("/account/password").get_data(as_text=True)


def test_department_staff_get_no_desk_link(logged_in, make_department, make_user):
    staff = make_user("department", username="civil1", department=make_department())
    assert 'href="/desk"' not in logged_in(staff).get("/account/password").get_data(as_text=True)
