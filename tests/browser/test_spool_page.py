"""The admin's spool page in Chromium: what waits, what is quarantined, replaying after a confirmation."""

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from hotline.intake import intake
from tests.browser.conftest import log_in, screenshot
from tests.twilio_helpers import CALLER, sms_form


def test_an_admin_sees_the_spool_and_replays_it_after_confirming(page, app, make_user):
    spool = intake().spool
    received = datetime.now(UTC) - timedelta(minutes=4)
    form = {k: [v] for k, v in sms_form(sid="SM" + "a" * 32, body="家里失火了").items()}
    spool.write("sms", key=CALLER, form=form, args={}, received_at=received)
    spool.write("fax", key=CALLER, form=form, args={}, received_at=received - timedelta(minutes=1))
    spool.quarantine(spool.claim(spool.pending_names()[0]), "unknown endpoint 'fax'", now=received)
    make_user("admin", username="root")
    log_in(page, "root")
    page.goto("/admin/spool")
    expect(page.locator("h1")).to_have_text("受理暂存队列")
    expect(page.locator("main")).to_contain_text("等待中：1")
    expect(page.locator("main")).to_contain_text("138****1234")
    quarantined = page.locator("table").nth(1)
    expect(quarantined).to_contain_text("unknown endpoint 'fax'")
    expect(quarantined).to_contain_text("fax")  # what the record says, as far as it can be read
    expect(quarantined).to_contain_text("138****1234")
    expect(page.locator("main")).not_to_contain_text(CALLER)
    screenshot(page, "admin-spool")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="立即补录").click()
    expect(page.locator(".flash")).to_contain_text("补录完成：新入库 1 条")
    expect(page.locator("main")).to_contain_text("没有等待中的记录")
    screenshot(page, "admin-spool-replayed")
