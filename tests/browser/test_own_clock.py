"""The hotline's own clock on the ticket page, and a catch-up sweep read as one notice per ticket.

Screenshots in ``test-artifacts/``: the clocks panel of an owned P2 ticket that
was never referred, and the manager's notifications after a catch-up.
"""

from datetime import timedelta

from playwright.sync_api import expect

from hotline.escalation.sweep import sweep
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from hotline.timeutil import utcnow
from tests.browser.conftest import log_in, screenshot


def test_the_own_clock_runs_on_the_page_and_a_catch_up_is_one_notice_per_ticket(
    page, app, operator, manager, make_department
):
    civil = make_department("civil_affairs", "县民政局", duty_phone="+8613900000001")
    now = utcnow()
    waiting = ts.log_call(
        actor=operator,
        now=now - timedelta(days=20),
        phone="13812340001",
        category="subsistence",
        priority="P2",
        summary="低保申请没有消息",
    )
    fresh = ts.log_call(
        actor=operator, now=now, phone="13812340002", category="policy_enquiry", priority="P3", summary="临时救助材料"
    )
    urgent = []
    for i in range(3):
        t = ts.log_call(
            actor=operator,
            now=now - timedelta(days=10),
            phone=f"1381234010{i}",
            category="accident_disaster",
            priority="P1",
            summary=f"房屋失火{i}",
        )
        rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now - timedelta(days=10))
        urgent.append(t)
    db.session.commit()
    sweep(now=now)

    log_in(page, operator.username)
    page.goto(f"/tickets/{fresh.number}")
    clocks = page.locator("#clocks")
    expect(clocks).to_contain_text("派单/答复时限")
    expect(clocks).to_contain_text("剩余")
    expect(clocks).not_to_contain_text("当前没有计时")
    page.goto(f"/tickets/{waiting.number}")
    expect(clocks).to_contain_text("派单/答复时限")
    expect(clocks).to_contain_text("超时")
    expect(clocks).not_to_contain_text("当前没有计时")
    screenshot(page, "own-clock-overdue-ticket")

    page.context.clear_cookies()
    log_in(page, manager.username)
    page.goto("/notifications")
    items = page.locator("main li")
    # One notice per ticket: the never-referred P2 (督办, 个案会商) and the three P1 cases.
    expect(items).to_have_count(4)
    for t in (waiting, *urgent):
        expect(page.locator(f'main li a[href="/tickets/{t.number}"]')).to_have_count(1)
    expect(page.locator("main li", has_text=urgent[0].number)).to_contain_text("共6步")
    screenshot(page, "own-clock-digest-notifications")
