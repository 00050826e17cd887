"""Village and township staff work from phones: the inbox and a referral at 375 px, no sideways scrolling.

The inbox shows each referral as a card (cells one under another, each named),
with the acknowledge button full width.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.tickets import service as tickets
from hotline.timeutil import utcnow
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def village_case(make_department, make_user, operator):
    town = make_department("town_chengguan", "城关镇", "township", "township")
    village = make_department("village_dongguan", "东关社区", "community", "village", parent=town)
    clerk = make_user("department", username="dg_zhou", display_name="周协理员", department=village)
    ticket = tickets.log_call(
        actor=operator,
        now=utcnow() - timedelta(hours=2),
        phone="13812345678",
        caller_name="孙涛",
        category="disability_support",
        priority="P2",
        summary="儿子重度残疾，想了解残疾人护理补贴怎么申请，家里还有一位卧床老人需要照顾",
        description="家住东关社区三组。",
    )
    referral = referrals.dispatch_referral(
        ticket, department=village, role="lead", actor=operator, now=utcnow() - timedelta(hours=1)
    )
    db.session.commit()
    return clerk, ticket, referral


def test_the_village_inbox_and_referral_fit_a_phone(browser, live_server, village_case):
    clerk, ticket, referral = village_case
    context = browser.new_context(base_url=live_server, viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("input[name=username]").fill(clerk.username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.goto("/inbox")
        card = page.locator("table.list.stack tbody tr").first
        expect(card).to_contain_text(ticket.number)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # The case's summary gets the card's width, not one character a line.
        summary = card.locator("td.case a").first.bounding_box()
        assert summary["width"] > 250
        button = card.locator("td.actions button[type=submit]")
        assert button.bounding_box()["width"] > 250
        screenshot(page, "phone-village-inbox")
        page.goto(f"/referrals/{referral.id}")
        expect(page.locator("main")).to_contain_text(ticket.number)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "phone-village-referral")
    finally:
        context.close()
