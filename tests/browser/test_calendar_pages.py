"""The working calendar in a real browser: the warning on the desk, and an admin entering next year."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from models.calendar import CalendarYear
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

#: 2026-11-03 09:00 in Asia/Shanghai: 59 days before 2027, which neither the package nor calendar.toml knows.
NOVEMBER = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)


def test_the_desk_warns_operators_about_next_years_calendar(page, operator, monkeypatch):
    monkeypatch.setattr("hotline.timeutil.utcnow", lambda: NOVEMBER)
    log_in(page, operator.username)
    page.goto("/desk")
    warning = page.locator(".warnings")
    expect(warning).to_contain_text("2027年的工作日历未载入")
    expect(warning).to_contain_text("请管理员录入国务院节假日安排通知")
    screenshot(page, "calendar-warning-desk")


def test_an_admin_follows_the_warning_and_enters_2027(page, make_user, monkeypatch):
    monkeypatch.setattr("hotline.timeutil.utcnow", lambda: NOVEMBER)
    admin = make_user("admin", username="root", display_name="系统管理员")
    log_in(page, admin.username)
    page.locator(".warnings a").click()
    expect(page.locator("input[name=year]")).to_have_value("2027")
    page.locator("input[name=source]").fill("国务院办公厅关于2027年部分节假日安排的通知")
    page.locator("textarea[name=entries]").fill(
        "2027-01-01..2027-01-03 元旦\n2027-02-06..2027-02-12 春节\n2027-02-14 上班\n2027-02-20 上班\n2027-02-10 上班"
    )
    page.get_by_role("button", name="核对").click()
    expect(page.locator(".field.has-error")).to_contain_text("2027-02-10 是工作日")
    screenshot(page, "calendar-admin-error")
    text = page.locator("textarea[name=entries]").input_value()
    page.locator("textarea[name=entries]").fill(text.replace("\n2027-02-10 上班", ""))
    page.get_by_role("button", name="核对").click()
    expect(page.locator(".calendar-preview")).to_contain_text("10 天节假日（其中 6 个工作日放假），2 个调休上班日")
    screenshot(page, "calendar-admin-preview")
    page.get_by_role("button", name="保存 2027 年").click()
    expect(page.locator(".flash-success")).to_contain_text("2027 年工作日历已保存")
    expect(page.locator(".warnings")).to_have_count(0)
    assert db.session.get(CalendarYear, 2027) is not None
    screenshot(page, "calendar-admin-list")
    page.get_by_role("link", name="2027", exact=True).click()
    expect(page.locator("textarea[name=entries]")).to_have_value(
        "2027-01-01..2027-01-03 元旦\n2027-02-06..2027-02-12 春节\n2027-02-14 上班\n2027-02-20 上班"
    )
    screenshot(page, "calendar-admin-edit")


def test_a_handed_over_ticket_is_in_the_new_owners_notifications(page, operator, manager, make_user):
    from hotline.tickets import service
    from hotline.timeutil import utcnow
    from tests.helpers import log_call

    colleague = make_user("operator", username="op_li", display_name="李建国")
    ticket = log_call(operator, utcnow())
    service.transfer_owner(ticket, actor=manager, now=utcnow(), new_owner=colleague, reason="张晓红病假，请跟进回访")
    db.session.commit()
    log_in(page, colleague.username)
    expect(page.locator(".notices .badge")).to_have_text("1")
    page.locator(".notices").click()
    notice = page.locator("li.unread")
    expect(notice).to_contain_text(f"陈主任 将工单 {ticket.number} 转交给您：张晓红病假，请跟进回访")
    screenshot(page, "handover-notification")
    notice.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text(ticket.number)
