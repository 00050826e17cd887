"""The desk's live panels in a real browser: a simulated SMS and a simulated call appear without a reload.

``flask hotline simulate`` posts signed webhooks to the live server, as Twilio
would; the operator's open desk polls and shows them.
"""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hotline.extensions import db
from models.ticket import Ticket
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(app, page, operator):
    """The operator's desk, polling every second; a marker on ``window`` tells whether the page reloaded."""
    app.config["DESK_POLL_SECONDS"] = 1
    log_in(page, operator.username)
    page.goto("/desk")
    expect(page.locator("#live-calls li, #live-calls p")).to_have_count(1)
    page.evaluate("window.stillTheSamePage = true")
    return page


def simulate(runner, live_server, *args):
    result = runner.invoke(args=["hotline", "simulate", *args, "--url", live_server])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_simulated_sms_appears_on_the_desk_without_reload(desk, runner, live_server):
    output = simulate(
        runner, live_server, "sms", "--from", "+8613812341234", "--body", "家里房子昨晚失火了，一家四口没地方住"
    )
    ticket = db.session.scalar(select(Ticket))
    assert ticket.number in output  # the TwiML answer gives the number to the texter
    waiting = desk.locator("#unclaimed li.unclaimed")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text(ticket.number)
    expect(waiting).to_contain_text("家里房子昨晚失火了")
    assert desk.evaluate("window.stillTheSamePage") is True
    screenshot(desk, "desk-live-sms")
    waiting.locator("button[type=submit]").click()
    expect(desk).to_have_url(f"{live_server}/tickets/{ticket.number}")
    db.session.refresh(ticket)
    assert ticket.status == "open"


def test_a_missed_call_shows_in_the_calls_panel_and_waits_for_a_call_back(desk, runner, live_server):
    output = simulate(runner, live_server, "call", "--from", "+8613900001234", "--digit", "1")
    assert "nobody is on the duty roster" in output and "left a voicemail" in output
    calls = desk.locator("#live-calls li.call")
    expect(calls).to_have_count(1)
    expect(calls.first).to_have_class("call call-missed")
    ticket = db.session.scalar(select(Ticket))
    expect(calls.first.locator("a")).to_have_text(ticket.number)
    expect(desk.locator("#unclaimed li.unclaimed")).to_contain_text(ticket.number)
    assert desk.evaluate("window.stillTheSamePage") is True
