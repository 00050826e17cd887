"""The reports in a real browser: a manager's dashboard over a busy month, its links, a department's view.

The month is the bulk demo loader's (realistic volumes, every state, holidays
counted); the screenshots in ``test-artifacts/`` are for a person to judge how
the dashboard reads at a glance.
"""

import re

import pytest
from playwright.sync_api import expect

from hotline.demo import DEMO_PASSWORD, load_bulk_demo
from hotline.timeutil import utcnow
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def busy_month(app):
    """Ninety days of a county hotline (about 1,500 tickets), loaded in bulk."""
    load_bulk_demo(now=utcnow(), tickets=1500, days=90, echo=lambda _line: None)


def test_manager_reads_the_dashboard_and_follows_its_links(page, busy_month):
    log_in(page, "manager1", DEMO_PASSWORD)
    page.goto("/reports")
    cards = page.locator(".cards .card")
    expect(cards).to_have_count(13)
    expect(page.locator("svg.chart.trend rect.bar")).to_have_count(30)
    expect(page.locator("svg.chart.hbars rect.bar").first).to_be_visible()
    screenshot(page, "reports-dashboard")

    # A figure's value opens the list of what it counts, with the same number.
    card = page.locator('.card[data-figure="resolved_on_time"]')
    numerator = card.locator(".card-count a").first.inner_text()
    card.locator(".card-value").click()
    expect(page).to_have_url(re.compile(r"/reports/list\?"))
    expect(page.locator("main")).to_contain_text(re.compile(rf"\b{numerator}\b"))
    expect(page.locator("table.report-list tbody tr").first).to_be_visible()
    screenshot(page, "reports-list")

    # A bar of the daily chart opens that day's tickets, wherever it is clicked: a dot of the P0/P1 line
    # drawn over it takes no click (whichever day's dot falls on its column: the month moves with today).
    page.goto("/reports")
    hits = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart.trend circle.dot')].map(dot => {
            const box = dot.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return hit ? hit.tagName.toLowerCase() : null;
        })"""
    )
    assert hits and "circle" not in hits, hits
    page.locator("svg.chart.trend a.barlink").nth(15).click()
    expect(page).to_have_url(re.compile(r"bucket=\d{4}-\d{2}-\d{2}"))

    page.goto("/reports/times?dim=unit")
    expect(page.locator("table.times")).to_have_count(5)
    screenshot(page, "reports-times-by-unit")

    with page.expect_download() as download:
        page.locator(".exports a", has_text="Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")


def test_department_sees_its_own_unit_only(page, busy_month):
    log_in(page, "town1", DEMO_PASSWORD)
    page.goto("/reports")
    expect(page.locator(".cards .card")).to_have_count(12)  # no answer rate: calls are the hotline's
    expect(page.locator('.card[data-figure="answer_rate"]')).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("县医疗保障局")
    screenshot(page, "reports-department")
