"""The admin's partner webhook pages in Chromium: a webhook made with its secret shown once, the deliveries,
a retry and a deactivation after a confirmation."""

import dataclasses
import json
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from hotline.extensions import db
from hotline.tickets import service as tickets
from hotline.tickets.external import Person, receive_report
from hotline.timeutil import utcnow
from hotline.webhooks import service as webhooks
from hotline.webhooks.policy import webhook_policy
from models.webhook import WebhookDelivery, WebhookSubscription
from tests.browser.conftest import log_in, screenshot


def test_an_admin_makes_a_webhook_watches_its_deliveries_and_retries_one(page, app, make_user):
    now = utcnow()
    make_user("admin", username="root")
    operator = make_user("operator", username="op1")
    log_in(page, "root")
    page.goto("/admin/webhooks")
    expect(page.locator("main")).to_contain_text("尚无合作方推送")
    page.get_by_role("link", name="新建推送").click()
    page.locator("select[name=source]").select_option("12345")
    page.locator("input[name=url]").fill("http://127.0.0.1:9/hotline/events")  # nobody listens: the POST fails
    page.get_by_label("接线员认领").uncheck()
    screenshot(page, "admin-webhook-new")
    page.get_by_role("button", name="保存").click()
    subscription = db.session.scalar(select(WebhookSubscription))
    expect(page.locator("code.secret")).to_have_text(subscription.secret)
    screenshot(page, "admin-webhook-secret")
    assert "taken" not in subscription.events

    got = receive_report(
        now=now,
        source="12345",
        via="api",
        external_id="GD-1",
        summary="独居老人断粮",
        person=Person(phone="13900001111"),
    )
    tickets.take_ticket(got.ticket, actor=operator, now=now)
    tickets.close_ticket(got.ticket, actor=operator, now=now, resolution="已送米面油")
    db.session.commit()
    webhooks.send_due(now=now, policy=dataclasses.replace(webhook_policy(), max_attempts=1))
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.status == "failed" and json.loads(delivery.body)["event"] == "closed"

    page.get_by_role("link", name="合作方推送").first.click()
    expect(page.locator("main")).to_contain_text("whsec_…" + subscription.secret[-4:])
    expect(page.locator("main")).not_to_contain_text(subscription.secret)
    page.goto("/admin/webhooks/deliveries?status=problems")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text(got.ticket.number)
    expect(row).to_contain_text("结案")
    expect(row).to_contain_text("ConnectionError")
    row.locator("summary").click()
    expect(row.locator("pre")).to_contain_text('"resolution": "已送米面油"')
    screenshot(page, "admin-webhook-deliveries")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="立即重试").click()
    expect(page.locator(".flash")).to_contain_text("该推送将在几秒内重新发送")
    db.session.refresh(delivery)
    assert delivery.status == "queued" and delivery.next_attempt_at <= utcnow() + timedelta(seconds=1)

    page.goto("/admin/webhooks")
    page.once("dialog", lambda dialog: dialog.dismiss())  # changed their mind: nothing happens
    page.get_by_role("button", name="停用").click()
    db.session.refresh(subscription)
    assert subscription.active
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="停用").click()
    expect(page.locator(".flash")).to_contain_text("推送已停用；1 条待发送的推送已取消")
    screenshot(page, "admin-webhooks-deactivated")
