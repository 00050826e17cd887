"""A referral in a real browser, from both sides: the hotline dispatches, units work the case in their inbox.

The operator refers a ticket to two units from the ticket page (lead 民政,
assist 医保); 医保 asks to return it (退单); the operator accepts and
redispatches to 住建; 民政 and 住建 acknowledge (签收), note progress and
resolve (办结); the ticket waits for its callback, the operator is told, calls
back and closes. Each person has their own browser context (own cookies), as
on their own PC.

Elements are found by name, id and CSS class, never by their wording (the
wording changes with the locale); unit names and what people typed are data
and may be matched.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.tickets import service as tickets
from hotline.timeutil import utcnow
from models.referral import Referral
from models.ticket import Ticket
from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, log_in, screenshot

pytestmark = pytest.mark.browser

CIVIL, MEDINS, HOUSING = "县民政局", "县医疗保障局", "县住房和城乡建设局"


@pytest.fixture
def world(make_department, make_user, operator):
    """The three county bureaus, one clerk in each, and a call the operator logged a few minutes ago."""
    civil = make_department("civil_affairs", CIVIL)
    medins = make_department("medical_insurance", MEDINS)
    housing = make_department("housing", HOUSING)
    staff = {
        "civil": make_user("department", username="mz_wang", display_name="王丽（民政）", department=civil),
        "medins": make_user("department", username="yb_zhao", display_name="赵强（医保）", department=medins),
        "housing": make_user("department", username="zj_sun", display_name="孙磊（住建）", department=housing),
    }
    ticket = tickets.log_call(
        actor=operator,
        now=utcnow() - timedelta(minutes=8),
        phone="13812345678",
        caller_name="刘桂兰",
        category="illness_hardship",
        priority="P1",
        summary="丈夫突发脑梗住院，拿不出押金，房屋漏雨",
        description="县人民医院神经内科，押金一万元。家中土坯房漏雨，孩子在读初中。",
    )
    db.session.commit()
    return {"civil": civil, "medins": medins, "housing": housing, "staff": staff, "ticket": ticket}


@pytest.fixture
def tab_for(browser, live_server, request):
    """Another person's browser (own context and cookies), logged in; checked for errors like ``page``."""
    opened: list[tuple[str, Page]] = []
    errors: list[str] = []

    def open_tab(username: str) -> Page:
        context = browser.new_context(
            base_url=live_server, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()

        def on_console(message):
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                errors.append(f"{username} console: {message.text} ({message.location.get('url')})")

        def on_response(response):
            if response.status >= 400 and response.request.resource_type != "document":
                errors.append(f"{username} {response.status}: {response.url}")

        tab.on("console", on_console)
        tab.on("response", on_response)
        tab.on("pageerror", lambda exc: errors.append(f"{username} script: {exc}"))
        log_in(tab, username)
        opened.append((username, tab))
        return tab

    yield open_tab
    report = getattr(request.node, "report_call", None)
    for username, tab in opened:
        if report is not None and report.failed:
            screenshot(tab, f"FAILED-{request.node.name}-{username}")
        tab.context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


def _referral_item(page: Page, unit: str):
    return page.locator("#referrals li.referral", has_text=unit)


def _accept_confirm(page: Page, seen: list[str]) -> None:
    def accept(dialog):
        seen.append(dialog.type)
        dialog.accept()

    page.once("dialog", accept)


def _seed_overdue_case(operator, civil):
    """An older P1 case 民政 has not acknowledged: its acknowledge hour is long gone."""
    earlier = utcnow() - timedelta(hours=3)
    other = tickets.log_call(
        actor=operator,
        now=earlier,
        phone="13900007777",
        category="family_without_support",
        priority="P1",
        summary="父母双亡，两个孩子无人照料",
    )
    referrals.dispatch_referral(other, department=civil, role="lead", actor=operator, now=earlier)
    db.session.commit()
    return other


def test_referral_from_dispatch_through_return_to_resolution_and_close(page, tab_for, operator, world):
    ticket = world["ticket"]
    number = ticket.number
    overdue = _seed_overdue_case(operator, world["civil"])

    # --- the operator refers the case to 民政 (lead) and 医保 (assist) -----------------------
    log_in(page, operator.username)
    page.goto(f"/tickets/{number}")
    panel = page.locator("#referrals")
    dispatch = panel.locator("#dispatch")
    expect(dispatch).to_have_attribute("open", "")  # nothing referred yet: the form is open
    dispatch.locator("select[name=department_id]").select_option(label=CIVIL)
    dispatch.locator("input[name=role][value=lead]").check()
    dispatch.locator("textarea[name=instructions]").fill("请核实家庭困难情况，办理临时救助，当天联系家属。")
    dispatch.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{number}#referrals$"))
    expect(_referral_item(page, CIVIL).locator(".badge.rstatus-dispatched")).to_be_visible()
    expect(page.locator(".ticket-head .badge.status-referred")).to_be_visible()

    page.locator("#dispatch summary").click()
    dispatch.locator("select[name=department_id]").select_option(label=MEDINS)
    dispatch.locator("input[name=role][value=assist]").check()
    dispatch.locator("textarea[name=instructions]").fill("协助办理医疗救助“一站式”结算，减免押金。")
    dispatch.locator("button[type=submit]").click()
    expect(panel.locator("li.referral")).to_have_count(2)
    medins_item = _referral_item(page, MEDINS)
    expect(medins_item.locator(".badge.rstatus-dispatched")).to_be_visible()
    expect(medins_item).to_contain_text("一站式")
    expect(page.locator(".timeline .ev-referral_dispatched")).to_have_count(2)
    clocks = page.locator("#clocks li.clock")
    expect(clocks.filter(has_text=CIVIL)).to_have_count(2)  # acknowledge and resolve
    expect(clocks.filter(has_text=MEDINS)).to_have_count(2)
    screenshot(page, "referral-ticket-dispatched")

    # --- 医保 finds it in the inbox and asks to return it (退单) --------------------------------
    medins = tab_for("yb_zhao")
    expect(medins).to_have_url(re.compile(r"/inbox$"))
    expect(medins.locator(".tabs a.active")).to_have_attribute("href", re.compile(r"tab=new"))
    expect(medins.locator(".tabs a[href*='tab=new'] .badge")).to_have_text("1")
    rows = medins.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(number)
    expect(rows.first).to_contain_text("一站式")  # what the unit was asked to do
    rows.first.get_by_role("link", name=number).click()
    expect(medins).to_have_url(re.compile(r"/referrals/\d+$"))
    expect(medins.locator(".ticket-head .badge.rstatus-dispatched")).to_be_visible()
    expect(medins.locator(".ticket-head .badge.due-acknowledge")).to_be_visible()  # the clock it works against
    expect(medins.locator("#action-acknowledge")).to_have_attribute("open", "")  # the one thing to do first
    screenshot(medins, "referral-department-page-new")
    ret = medins.locator("#action-return")
    ret.locator("summary").click()
    ret.locator("select[name=reason]").select_option("not_our_remit")
    ret.locator("textarea[name=comment]").fill(
        "押金减免由医院和民政临时救助办理，医保待出院结算时介入；房屋问题请转住建。"
    )
    seen: list[str] = []
    _accept_confirm(medins, seen)
    ret.locator("button[type=submit]").click()
    expect(medins.locator(".ticket-head .badge.rstatus-return_requested")).to_be_visible()
    assert seen == ["confirm"]
    expect(medins.locator(".callout.next-step")).to_contain_text("房屋问题请转住建")  # the hotline decides now
    expect(medins.locator(".timeline .ev-return_requested")).to_contain_text("房屋问题请转住建")
    medins.goto("/inbox?tab=waiting")
    expect(medins.locator(".tabs a[href*='tab=waiting'] .badge")).to_have_text("1")
    expect(medins.locator("table.list tbody tr")).to_have_count(1)

    # --- the operator is told, accepts the return and redispatches to 住建 ----------------------
    page.reload()
    expect(page.locator(".topbar .notices .badge")).to_have_text("1")
    attention = page.locator(".referral-attention .callout")  # above the fold, before any scrolling
    expect(attention).to_have_count(1)
    expect(attention).to_contain_text(MEDINS)
    attention.get_by_role("link").click()
    medins_item = _referral_item(page, MEDINS)
    expect(medins_item).to_be_in_viewport()
    expect(medins_item.locator(".badge.rstatus-return_requested")).to_be_visible()
    expect(medins_item.locator(".callout")).to_contain_text("房屋问题请转住建")
    decide = medins_item.locator("details.action", has=page.locator("form[action$='/return-decision']"))
    expect(decide).to_have_attribute("open", "")  # the operator's move: the form waits open
    screenshot(page, "referral-ticket-return-requested")
    decide.locator("input[name$='-decision'][value=accept]").check()
    decide.locator("select[name$='-redispatch_to']").select_option(label=HOUSING)
    asked = decide.locator("textarea[name$='-redispatch_instructions']")
    expect(asked).to_have_value(re.compile("一站式"))  # what 医保 was asked: the operator rewrites it for 住建
    asked.fill("请核查房屋漏雨情况，符合条件的纳入农村危房改造。")
    decide.locator("input[name$='-comment']").fill("同意，转住建局核查危房改造")
    decide.locator("button[type=submit]").click()
    expect(_referral_item(page, MEDINS).locator(".badge.rstatus-returned")).to_be_visible()
    housing_item = _referral_item(page, HOUSING)
    expect(housing_item.locator(".badge.rstatus-dispatched")).to_be_visible()
    expect(page.locator(".timeline .ev-return_accepted")).to_contain_text("同意，转住建局核查危房改造")
    expect(page.locator(".referral-attention")).to_have_count(0)  # nothing waits on the operator now
    expect(_referral_item(page, MEDINS)).to_contain_text("房屋问题请转住建")  # why it came back stays on record
    expect(page.locator(".ticket-head .badge.status-referred")).to_be_visible()

    # --- 民政 acknowledges from the inbox, notes progress, resolves ----------------------------
    civil = tab_for("mz_wang")
    expect(civil.locator(".tabs a[href*='tab=new'] .badge")).to_have_text("2")
    rows = civil.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_class(re.compile(r"\boverdue\b"))  # the older case is past its hour
    expect(rows.first.locator(".badge.due-acknowledge.danger")).to_be_visible()
    expect(rows.first).to_contain_text(overdue.number)
    ours = rows.filter(has_text=number)
    expect(ours).not_to_have_class(re.compile(r"\boverdue\b"))
    expect(ours).to_contain_text("当天联系家属")
    screenshot(civil, "referral-inbox")
    ours.locator("form[action$='/acknowledge'] button[type=submit]").click()
    expect(civil).to_have_url(re.compile(r"/referrals/\d+$"))
    expect(civil.locator(".ticket-head .badge.rstatus-acknowledged")).to_be_visible()
    expect(civil.locator(".timeline .ev-referral_acknowledged")).to_be_visible()
    civil.locator("form[action$='/progress'] textarea[name=text]").fill("已电话联系刘桂兰，明天上午入户核查。")
    civil.locator("form[action$='/progress'] button[type=submit]").click()
    expect(civil.locator(".ticket-head .badge.rstatus-in_progress")).to_be_visible()
    expect(civil.locator(".ticket-head .badge.due-resolve")).to_be_visible()
    expect(civil.locator(".timeline .ev-referral_progress")).to_contain_text("明天上午入户核查")
    screenshot(civil, "referral-department-page")

    resolve = civil.locator("#action-resolve")
    resolve.locator("summary").click()
    resolve.locator("select[name=outcome]").select_option("relief_granted")
    resolve.locator("textarea[name=result]").fill("临时救助3000元已发放至家属账户。")
    resolve.locator("button[type=submit]").click()
    expect(civil.locator(".ticket-head .badge.rstatus-resolved")).to_be_visible()
    expect(civil.locator(".timeline .ev-referral_resolved")).to_contain_text("临时救助3000元")
    civil.goto("/inbox?tab=done")
    expect(civil.locator("table.list tbody tr", has_text=number).locator(".badge.rstatus-resolved")).to_be_visible()
    expect(civil.locator(".tabs a[href*='tab=new'] .badge")).to_have_text("1")  # the older case still waits

    # the ticket still waits for 住建
    page.reload()
    expect(_referral_item(page, CIVIL).locator(".badge.rstatus-resolved")).to_be_visible()
    expect(page.locator(".ticket-head .badge.status-referred")).to_be_visible()

    # --- 住建 acknowledges and resolves --------------------------------------------------------
    housing = tab_for("zj_sun")
    row = housing.locator("table.list tbody tr", has_text=number)
    expect(row).to_contain_text("纳入农村危房改造")  # what the operator asked 住建, not what 医保 was asked
    expect(row).not_to_contain_text("一站式")
    row.locator("form[action$='/acknowledge'] button[type=submit]").click()
    expect(housing.locator(".ticket-head .badge.rstatus-acknowledged")).to_be_visible()
    resolve = housing.locator("#action-resolve")
    resolve.locator("summary").click()
    resolve.locator("select[name=outcome]").select_option("referred_on")
    resolve.locator("textarea[name=result]").fill("已列入农村危房改造计划，镇里本周上门鉴定。")
    resolve.locator("button[type=submit]").click()
    expect(housing.locator(".ticket-head .badge.rstatus-resolved")).to_be_visible()

    # --- the operator is told, calls back and closes ------------------------------------------
    page.reload()
    expect(page.locator(".ticket-head .badge.status-pending_callback")).to_be_visible()
    expect(page.locator(".referral-attention .callout")).to_have_count(1)  # call back now
    expect(page.locator(".timeline .ev-referrals_done")).to_be_visible()
    expect(_referral_item(page, HOUSING).locator(".result")).to_contain_text("危房改造")
    screenshot(page, "referral-ticket-awaiting-callback")
    notices = page.locator(".topbar .notices")
    expect(notices.locator(".badge")).to_have_text("2")  # the return request, and now this
    notices.click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    unread = page.locator("main li.unread")
    expect(unread).to_have_count(2)
    expect(unread.first).to_contain_text(number)
    unread.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{number}$"))

    callback = page.locator("#action-callback")
    callback.locator("summary").click()
    callback.locator("input[name=reached][value=yes]").check()
    callback.locator("select[name=satisfaction]").select_option("5")
    callback.locator("textarea[name=comment]").fill("家属表示满意，救助款已收到")
    callback.locator("button[type=submit]").click()
    expect(page.locator(".timeline .ev-callback")).to_contain_text("家属表示满意")

    close = page.locator("#action-close")
    close.locator("summary").click()
    close.locator("textarea[name=resolution]").fill("民政临时救助3000元；住建列入危房改造；回访满意。")
    seen = []
    _accept_confirm(page, seen)
    close.locator("button[type=submit]").click()
    expect(page.locator(".ticket-head .badge.status-closed")).to_be_visible()
    assert seen == ["confirm"]
    expect(page.locator(".timeline .ev-closed")).to_contain_text("回访满意")
    screenshot(page, "referral-ticket-closed")

    # The servers wrote since: end the test's read snapshot and forget the objects it loaded
    # (the session keeps them after a commit, and a rollback with no transaction open is a no-op).
    db.session.rollback()
    db.session.expire_all()
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    assert (ticket.status, ticket.satisfaction) == ("closed", 5)
    states = {r.department.code: (r.role, r.status) for r in ticket.referrals}
    assert states == {
        "civil_affairs": ("lead", "resolved"),
        "medical_insurance": ("assist", "returned"),
        "housing": ("assist", "resolved"),
    }


def test_department_user_gets_404_for_another_units_referral(page, operator, world):
    ticket = world["ticket"]
    now = utcnow()
    lead = referrals.dispatch_referral(ticket, department=world["civil"], role="lead", actor=operator, now=now)
    assist = referrals.dispatch_referral(ticket, department=world["medins"], role="assist", actor=operator, now=now)
    db.session.commit()
    lead_id, assist_id = lead.id, assist.id

    log_in(page, "yb_zhao")
    response = page.goto(f"/referrals/{lead_id}")
    assert response.status == 404
    expect(page.locator("main h1")).to_have_text("404")
    expect(page.locator("main")).not_to_contain_text(ticket.summary)
    expect(page.locator("main")).not_to_contain_text(CIVIL)
    screenshot(page, "referral-other-unit-404")

    # their own referral of the same ticket opens
    response = page.goto(f"/referrals/{assist_id}")
    assert response.status == 200
    expect(page.locator(".ticket-head .badge.rstatus-dispatched")).to_be_visible()

    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Referral, lead_id).status == "dispatched"
