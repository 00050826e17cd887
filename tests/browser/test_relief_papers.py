"""Papers, services and the relief audit in a real browser.

The operator grants relief, uploads the three papers its checklist needs (the last one completes the
paperwork), and a village clerk records a home visit from a phone. A manager reads the audit list.
Elements are found by name, id and CSS class, never by their wording.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.relief import service as relief
from hotline.tickets import service as tickets
from hotline.timeutil import utcnow
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n% scanned\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def case(make_department, make_user, operator):
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    village = make_department("v_dongguan", "东关社区", kind="village", level="village", parent=town)
    clerk = make_user("department", username="dg_li", display_name="李协理员", department=village)
    ticket = tickets.log_call(
        actor=operator,
        now=utcnow() - timedelta(hours=2),
        phone="13812345678",
        caller_name="刘桂兰",
        category="illness_hardship",
        priority="P1",
        summary="丈夫突发脑梗住院，拿不出押金",
    )
    db.session.commit()
    referrals.dispatch_referral(ticket, department=village, role="lead", actor=operator, now=utcnow())
    relief.grant_relief(
        ticket,
        actor=operator,
        now=utcnow(),
        kind="temporary_assistance",
        amount_yuan="2000",
        granting_unit=town,
        reason="住院押金不足，先行救助",
    )
    db.session.commit()
    return {"ticket": ticket, "clerk": clerk, "village": village, "town": town}


def test_the_last_paper_completes_the_paperwork_and_a_visit_is_recorded_by_phone(
    page, browser, live_server, operator, manager, case
):
    ticket = case["ticket"]
    # An earlier case above the limit, asked by the operator and approved by the manager: a pair to audit.
    earlier = tickets.log_call(
        actor=operator,
        now=utcnow() - timedelta(days=3),
        phone="13900009999",
        priority="P1",
        category="illness_hardship",
        summary="火灾后无处居住",
    )
    db.session.commit()
    big = relief.grant_relief(
        earlier,
        actor=operator,
        now=utcnow() - timedelta(days=3),
        kind="emergency_fund",
        amount_yuan="8000",
        granting_unit=case["town"],
        reason="房屋失火",
    )
    relief.decide_relief(big, actor=manager, now=utcnow() - timedelta(days=2), approve=True, comment="同意")
    db.session.commit()
    log_in(page, operator.username)
    page.goto(f"/tickets/{ticket.number}#papers")
    expect(page.locator("#papers li.missing")).to_have_count(3)
    for kind, name, content in (
        ("id_card", "身份证.pdf", PDF),
        ("household_register", "户口簿.png", PNG),
        ("application_form", "申请书.pdf", PDF),
    ):
        page.locator("#papers-upload summary").click()
        page.locator("#papers-upload select[name=kind]").select_option(kind)
        page.locator("#papers-upload input[name=file]").set_input_files(
            {"name": name, "mimeType": "application/octet-stream", "buffer": content}
        )
        page.locator("#papers-upload button[type=submit]").click()
        expect(page.locator(".papers-list")).to_contain_text(name)
    expect(page.locator("#papers li.present")).to_have_count(3)
    expect(page.locator("#papers li.missing")).to_have_count(0)
    expect(page.locator(".flash-success")).to_be_visible()
    screenshot(page, "relief-papers-complete")

    # The village clerk records a home visit on a phone.
    phone = browser.new_context(base_url=live_server, viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    tab = phone.new_page()
    log_in(tab, case["clerk"].username)
    tab.goto(f"/referrals/{ticket.referrals[0].id}#services")
    tab.locator("#services-record summary").click()
    tab.locator("#services-record select[name=kind]").select_option("visit")
    tab.locator("#services-record input[name=started_on]").fill(utcnow().strftime("%Y-%m-%d"))
    tab.locator("#services-record input[name=hours]").fill("1.5")
    tab.locator("#services-record textarea[name=outcome]").fill("入户探视，已协助联系医院减免部分费用")
    tab.locator("#services-record button[type=submit]").click()
    expect(tab.locator(".services-list")).to_contain_text("入户探视")
    width = tab.evaluate("document.documentElement.scrollWidth")
    screenshot(tab, "relief-service-phone")
    phone.close()
    assert width <= PHONE["width"] + 1, f"the page is {width}px wide on a {PHONE['width']}px phone"

    manager_tab = browser.new_context(base_url=live_server, viewport={"width": 1440, "height": 900}, locale="zh-CN")
    m = manager_tab.new_page()
    log_in(m, manager.username)
    m.goto("/relief/audit?list=pairs")
    expect(m.locator("nav.tabs a.active")).to_have_count(1)
    expect(m.locator("table.audit-list tbody tr")).to_have_count(1)
    screenshot(m, "relief-audit")
    manager_tab.close()
