"""An urgent text in a real browser: a P0 text posted as a signed Twilio webhook goes to the top of 待认领 and
raises the alert banner on an operator's open desk without a reload; taking it and confirming the triage clears it.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hotline.extensions import db
from hotline.intake import intake, service
from hotline.intake.service import InboundMessage
from hotline.timeutil import utcnow
from hotline.triage import triage_text
from models.ticket import Ticket
from tests.browser.conftest import log_in, screenshot
from tests.helpers import reload

pytestmark = pytest.mark.browser

URGENT = "我家孩子走丢了，在县城汽车站附近"


@pytest.fixture
def desk(app, page, operator):
    """The operator's desk, polling every second, with five routine texts waiting since last month."""
    app.config["DESK_POLL_SECONDS"] = 1
    policy = intake().policy
    for i in range(5):
        sent = utcnow() - timedelta(days=30 - i)
        message = InboundMessage(
            sid=f"SM{i:032d}", from_number=f"+861390000100{i}", to_number=None, body="请问低保怎么申请"
        )
        service.receive_sms(message, now=sent, policy=policy)
    log_in(page, operator.username)
    page.goto("/desk")
    expect(page.locator("#unclaimed li.unclaimed")).to_have_count(5)
    expect(page.locator("#urgent-alerts")).to_be_hidden()
    page.evaluate("window.stillTheSamePage = true")
    return page


def test_a_p0_text_tops_the_unclaimed_list_with_its_alert_without_reload(desk, runner, live_server, operator):
    result = runner.invoke(
        args=["hotline", "simulate", "sms", "--from", "+8613812341234", "--body", URGENT, "--url", live_server]
    )
    assert result.exit_code == 0, result.output
    ticket = db.session.scalar(select(Ticket).where(Ticket.priority == "P0"))
    assert ticket is not None and ticket.number in result.output and "110" in result.output

    banner = desk.locator("#urgent-alerts")
    expect(banner).to_be_visible()
    expect(banner.locator("li")).to_have_count(1)
    reasons = "、".join(triage_text(URGENT).reasons)
    expect(banner).to_contain_text(ticket.number)
    expect(banner).to_contain_text("系统研判：P0 危及生命")
    expect(banner).to_contain_text(f"命中：{reasons}")
    waiting = desk.locator("#unclaimed li.unclaimed")
    expect(waiting).to_have_count(6)
    expect(waiting.first).to_contain_text(ticket.number)  # at the top, above the month-old texts
    expect(waiting.first).to_contain_text("P0")
    assert desk.evaluate("window.stillTheSamePage") is True
    screenshot(desk, "desk-triage-p0-alert")

    # 待认领 in the queue has the same order.
    desk.goto("/desk?scope=new")
    expect(desk.locator("table.queue-table tbody tr").first).to_contain_text(ticket.number)

    # Taking it from the list; the ticket page shows the suggestion and confirms it with one click.
    desk.goto("/desk")
    desk.locator("#unclaimed li.unclaimed").first.locator("button[type=submit]").click()
    expect(desk).to_have_url(f"{live_server}/tickets/{ticket.number}")
    panel = desk.locator("#triage")
    expect(panel).to_contain_text("系统研判：P0 危及生命")
    screenshot(desk, "ticket-triage-suggestion")
    panel.locator("button[name=confirm]").click()
    expect(desk.locator("#triage")).to_contain_text("复核：已确认")
    assert reload(ticket).triage_verdict == "confirmed"

    desk.goto("/desk")
    expect(desk.locator("#urgent-alerts")).to_be_hidden()


def test_the_call_form_shows_the_triage_of_what_the_operator_types(page, operator):
    log_in(page, operator.username)
    page.goto("/tickets/new")
    hint = page.locator("#triage-hint")
    expect(hint).to_be_hidden()
    page.locator("input[name=summary]").fill("来电称孩子走丢了")
    page.locator("textarea[name=description]").fill("在县城汽车站附近，已经找了一个小时")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("系统研判：P0 危及生命")
    expect(page.locator("select[name=priority]")).to_have_value("P3")  # the operator's choice stays theirs
    screenshot(page, "call-form-triage-hint")
