"""The operator's desk in a real browser: log a call, find it, work it, close it; repeat calls; language.

Elements are found by name, id and CSS class, never by their wording: the
wording changes with the locale and the translation catalogue.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.tickets import service
from hotline.timeutil import utcnow
from models.ticket import Ticket, TicketEvent
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

TICKET_URL = re.compile(r"/tickets/(\d{12})$")


def _log_earlier_call(operator, *, hours_ago, phone, priority, category, summary):
    """A call the operator logged earlier; the server runs on the real clock, so the seed does too."""
    ticket = service.log_call(
        actor=operator,
        now=utcnow() - timedelta(hours=hours_ago),
        phone=phone,
        category=category,
        priority=priority,
        summary=summary,
    )
    db.session.commit()
    return ticket


def test_operator_logs_a_call_works_it_on_the_ticket_page_and_closes_it(page, operator):
    _log_earlier_call(
        operator,
        hours_ago=20,
        phone="13900001111",
        priority="P3",
        category="subsistence",
        summary="咨询低保申请材料",
    )
    _log_earlier_call(
        operator,
        hours_ago=5,
        phone="13900002222",
        priority="P2",
        category="elderly_alone",
        summary="独居老人家中断水两天",
    )
    service.open_unclaimed_ticket(
        now=utcnow() - timedelta(minutes=12), channel="sms", phone="13700003333", summary="我在县城火车站，钱包被偷"
    )
    db.session.commit()

    log_in(page, operator.username)
    expect(page).to_have_url(re.compile(r"/desk$"))

    page.locator(".mainnav a[href='/tickets/new']").click()
    form = page.locator("#log-call")
    form.locator("input[name=phone]").fill("138 1234 1234")
    form.locator("input[name=caller_name]").fill("王秀英")
    priority = form.locator("select[name=priority]")
    expect(priority).to_have_value("P3")
    form.locator("input[name=p1_checks][value=serious_illness]").check()
    expect(priority).to_have_value("P1")
    expect(priority).to_have_attribute("data-priority", "P1")
    expect(page.locator("#priority-hint")).to_be_visible()
    expect(form.locator("textarea[name=answer]")).to_be_hidden()
    form.locator("select[name=category]").select_option("illness_hardship")
    form.locator("input[name=summary]").fill("父亲突发脑溢血住院，拿不出押金")
    form.locator("textarea[name=description]").fill("县人民医院ICU，押金两万，家中无存款。")
    screenshot(page, "new-call-filled")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(TICKET_URL)
    number = TICKET_URL.search(page.url).group(1)

    page.locator(".mainnav a[href='/desk']").click()
    expect(page.locator(".tabs a.active")).to_have_attribute("href", re.compile(r"scope=mine"))
    rows = page.locator(".queue-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(number)
    expect(rows.first.locator(".badge.prio-p1")).to_be_visible()
    expect(page.locator(".side li.unclaimed")).to_have_count(1)
    screenshot(page, "desk-mine")

    rows.first.get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/tickets/{number}$"))
    expect(page.locator(".timeline .ev-created")).to_be_visible()

    page.locator("#note-form textarea[name=text]").fill("已联系医院社工，先行救助申请中")
    page.locator("#note-form button[type=submit]").click()
    expect(page.locator(".timeline .ev-note")).to_contain_text("已联系医院社工")

    callback = page.locator("#action-callback")
    callback.locator("summary").click()
    callback.locator("input[name=reached][value=yes]").check()
    callback.locator("select[name=satisfaction]").select_option("5")
    callback.locator("textarea[name=comment]").fill("家属表示感谢")
    screenshot(page, "ticket-callback-form")
    callback.locator("button[type=submit]").click()
    expect(page.locator(".timeline .ev-callback")).to_contain_text("家属表示感谢")

    close = page.locator("#action-close")
    close.locator("summary").click()
    close.locator("textarea[name=resolution]").fill("临时救助两千元已发放，医保大病救助已申请")
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.type)
        dialog.accept()

    page.once("dialog", accept)
    close.locator("button[type=submit]").click()
    expect(page.locator(".ticket-head .badge.status-closed")).to_be_visible()
    assert dialogs == ["confirm"]
    expect(page.locator(".timeline .ev-closed")).to_contain_text("临时救助两千元已发放")
    screenshot(page, "ticket-closed")

    db.session.rollback()  # end the test's own read snapshot: the server wrote since
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket.status == "closed"
    assert ticket.priority == "P1"
    assert ticket.first_contact_owner_id == operator.id
    assert ticket.satisfaction == 5


def test_phone_of_a_recent_open_ticket_offers_to_add_the_call_to_it(page, operator):
    earlier = _log_earlier_call(
        operator,
        hours_ago=30,
        phone="13812341234",
        priority="P1",
        category="accident_disaster",
        summary="房屋失火，一家四口无处居住",
    )
    number = earlier.number

    log_in(page, operator.username)
    page.goto("/tickets/new")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    page.locator("#log-call input[name=phone]").press_sequentially("13812341234")
    history = page.locator("#caller-history")
    offer = history.locator("[data-state=recent]")
    expect(offer).to_be_visible()
    expect(offer.locator("[data-field=recent-link]")).to_have_text(number)
    expect(offer).to_contain_text("房屋失火")
    expect(history.locator("[data-field=history] li")).to_have_count(1)
    expect(history.locator("[data-field=contact]")).to_contain_text("138****1234")
    assert navigations == [], "the caller history must appear without reloading the form"
    screenshot(page, "new-call-repeat-offer")

    offer.locator("textarea[name=note]").fill("又打来询问安置点在哪里")
    offer.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{number}$"))
    expect(page.locator(".timeline .ev-repeat_call")).to_contain_text("又打来询问安置点在哪里")

    db.session.rollback()  # end the test's own read snapshot: the server wrote since
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == earlier.id)).all()
    assert kinds.count("repeat_call") == 1


def test_language_switch_in_the_top_bar_changes_and_keeps_the_language(page, operator):
    log_in(page, operator.username)
    html = page.locator("html")
    switch = page.locator(".topbar .langswitch button")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(switch).to_have_text("English")

    switch.click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(switch).to_have_text("中文")
    screenshot(page, "desk-english")

    page.reload()
    expect(html).to_have_attribute("lang", "en")

    switch.click()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(switch).to_have_text("English")
