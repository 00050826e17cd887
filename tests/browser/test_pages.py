"""The other everyday pages in a real browser, with enough data to judge how they look at 3 a.m.

Each test leaves a screenshot in ``test-artifacts/`` for a person to look at,
and checks what must be true whatever the styling: the page loads without
script or Content-Security-Policy errors, and the things that need attention
are marked so.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from hotline.tickets import service
from hotline.timeutil import utcnow
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_login_page_shows_the_form_and_a_wrong_password(page, operator):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("input[name=username]")).to_be_focused()
    screenshot(page, "login")

    page.locator("input[name=username]").fill(operator.username)
    page.locator("input[name=password]").fill("not-the-password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .flash-danger")).to_be_visible()
    expect(page.locator("input[name=username]")).to_have_value(operator.username)
    expect(page.locator("input[name=password]")).to_be_focused()
    screenshot(page, "login-failed")


def test_busy_desk_puts_overdue_and_urgent_tickets_first(page, operator, make_user):
    colleague = make_user("operator", username="op_li", display_name="李建国")
    now = utcnow()
    seeds = [
        # (owner, hours ago, priority, category, summary, emergency service, deadline from now in hours)
        (colleague, 9, "P3", "subsistence", "咨询低保年审需要带什么材料", None, 30),
        (colleague, 6, "P2", "elderly_alone", "独居老人三天没出门，邻居担心", None, -1),
        (operator, 3, "P1", "stranded_person", "务工人员滞留汽车站，身无分文无法返乡", None, -0.5),
        (colleague, 2, "P0", "accident_disaster", "家中失火，一名老人被困，已转119", "119", 1),
        (operator, 1, "P1", "illness_hardship", "孩子高烧住院，押金不够", None, 2),
        (colleague, 0.2, "P2", "disability_support", "残疾人轮椅损坏无法出行", None, 20),
    ]
    for owner, hours_ago, priority, category, summary, emergency, deadline in seeds:
        ticket = service.log_call(
            actor=owner,
            now=now - timedelta(hours=hours_ago),
            phone=f"1390000{len(summary):04d}",
            caller_name=None,
            category=category,
            priority=priority,
            summary=summary,
            emergency_service=emergency,
        )
        ticket.next_deadline_at = now + timedelta(hours=deadline)
    service.open_unclaimed_ticket(
        now=now - timedelta(minutes=25), channel="sms", phone="13700003333", summary="我在县城火车站，钱包被偷了"
    )
    service.open_unclaimed_ticket(
        now=now - timedelta(minutes=4), channel="voice", phone="13700004444", summary="未接来电"
    )
    db.session.commit()

    log_in(page, operator.username)
    page.locator(".tabs a[href*='scope=open']").click()
    rows = page.locator(".queue-table tbody tr")
    expect(rows).to_have_count(8)
    expect(rows.nth(0)).to_have_class(re.compile(r"\boverdue\b"))
    expect(rows.nth(0).locator(".badge.prio-p1")).to_be_visible()
    expect(rows.nth(1)).to_have_class(re.compile(r"\boverdue\b"))
    for urgent in (rows.nth(2), rows.nth(3)):
        expect(urgent).not_to_have_class(re.compile(r"\boverdue\b"))
        expect(urgent).to_have_class(re.compile(r"\burgent\b"))
    expect(rows.filter(has=page.locator(".badge.prio-p0"))).to_have_count(1)
    expect(page.locator(".side li.unclaimed")).to_have_count(2)
    screenshot(page, "desk-all-open")

    page.locator(".tabs a[href*='scope=mine']").click()
    expect(rows).to_have_count(2)
    screenshot(page, "desk-mine-overdue")


def test_admin_sees_every_user_with_role_department_and_state(page, make_user, make_department):
    admin = make_user("admin", username="admin_wu", display_name="吴管理")
    civil = make_department()
    town = make_department(code="t_chengguan", name="城关镇", kind="township", level="township")
    make_user("operator", username="op_zhang", display_name="张晓红")
    make_user("manager", username="mgr_chen", display_name="陈主任")
    make_user("department", username="mz_liu", display_name="刘经办", department=civil)
    make_user("department", username="cg_zhao", display_name="赵干事", department=town)
    locked = make_user("operator", username="op_sun", display_name="孙接线")
    locked.locked_until = utcnow() + timedelta(minutes=10)
    make_user("operator", username="op_gone", display_name="离职人员", active=False)
    db.session.commit()

    log_in(page, admin.username)
    expect(page).to_have_url(re.compile(r"/admin/users"))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.filter(has_text="op_sun").locator(".badge.danger")).to_be_visible()
    expect(rows.filter(has_text="mz_liu")).to_contain_text("县民政局")
    screenshot(page, "admin-users")


def test_department_user_lands_on_their_inbox(page, make_user, make_department):
    civil = make_department()
    staff = make_user("department", username="mz_liu", display_name="刘经办", department=civil)

    log_in(page, staff.username)
    expect(page.locator(".mainnav a.active")).to_have_count(1)
    expect(page.locator("main")).to_contain_text("县民政局")
    screenshot(page, "inbox")
