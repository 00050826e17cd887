"""The funds pages in a browser: a manager records money into the town fund and reads its statement; the ticket
page shows a case's relief from several sources at a glance; the relief report."""

from datetime import timedelta

from playwright.sync_api import expect

from hotline.extensions import db
from hotline.funds import service as funds
from hotline.relief import service as relief
from tests.browser.conftest import log_in, screenshot
from tests.helpers import log_call


def _county(manager, operator, make_department, now):
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    county = make_department("charity", "县慈善总会", kind="charity")
    town_fund = funds.create_fund(
        actor=manager, now=now, code="town_cg", name="城关镇救急难基金", kind="town", owner_unit=town
    )
    county_fund = funds.create_fund(
        actor=manager, now=now, code="county_jjn", name="县救急难基金", kind="county", owner_unit=county
    )
    funds.add_income(town_fund, actor=manager, now=now, kind="allocation", amount_yuan="50000", note="镇财政拨入")
    funds.add_income(county_fund, actor=manager, now=now, kind="allocation", amount_yuan="500000", note="县财政拨入")
    ticket = log_call(operator, now)
    first = relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="temporary_assistance",
        amount_yuan="3000",
        granting_unit=town,
        reason="先行临时救助",
    )
    relief.record_payment(first, actor=operator, now=now, amount_yuan="3000", note="现金")
    for amount, unit in (("10000", town), ("40000", county)):
        r = relief.grant_relief(
            ticket,
            actor=operator,
            now=now + timedelta(hours=1),
            kind="emergency_fund",
            amount_yuan=amount,
            granting_unit=unit,
            reason="住院费用六万元",
            case_conference_ref="县救急难个案会商纪要〔2026〕3号" if amount == "40000" else None,
        )
        relief.decide_relief(r, actor=manager, now=now + timedelta(hours=2), approve=True, comment="个案会商同意")
        relief.record_payment(r, actor=operator, now=now + timedelta(hours=3), amount_yuan="10000", note="转账至医院")
    db.session.commit()
    return ticket, town_fund


def test_a_manager_records_a_donation_and_reads_the_funds_statement(page, manager, operator, make_department, now):
    _ticket, town_fund = _county(manager, operator, make_department, now)
    log_in(page, manager.username)
    page.goto("/funds")
    expect(page.locator(f"#fund-{town_fund.id} .balance")).to_have_text("¥40,000.00")
    screenshot(page, "funds-list")
    page.locator(f"#fund-{town_fund.id} a").click()
    page.locator("#income summary").click()
    page.get_by_label("捐赠").check()
    page.locator("input[name=amount]").fill("1,200.50")
    page.locator("input[name=note]").fill("爱心企业捐赠")
    page.locator("#income button[type=submit]").click()
    expect(page.locator("#balance")).to_have_text("¥41,200.50")
    page.locator("input[name=from]").fill("2025-10-01")
    page.locator("input[name=to]").fill("2025-10-31")
    page.locator("#statement form.period button[type=submit]").click()
    expect(page.locator("#closing")).to_have_text("¥40,000.00")
    screenshot(page, "funds-statement")


def test_the_ticket_page_shows_relief_from_three_sources_at_a_glance(page, manager, operator, make_department, now):
    ticket, _fund = _county(manager, operator, make_department, now)
    log_in(page, operator.username)
    page.goto(f"/tickets/{ticket.number}")
    expect(page.locator("#glance-granted")).to_have_text("¥53,000.00")
    expect(page.locator("#glance-paid")).to_have_text("¥23,000.00")
    expect(page.locator("#limit-verdict")).to_contain_text("¥37,000.00")
    page.locator("#relief").screenshot(path=str(_artifact("ticket-relief-glance")))


def test_the_relief_report_by_fund(page, manager, operator, make_department, now):
    _county(manager, operator, make_department, now)
    log_in(page, manager.username)
    page.goto("/reports/relief?range=custom&from=2025-10-01&to=2025-10-31&dim=fund")
    expect(page.locator("#total-paid")).to_have_text("¥23,000.00")
    screenshot(page, "relief-report-fund")


def _artifact(name):
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
