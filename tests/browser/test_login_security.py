"""An admin sees a slowed-down account, clears its failed logins and signs the user out everywhere."""

import re

import pytest
from playwright.sync_api import expect

from hotline.auth.service import Throttle, authenticate
from hotline.extensions import db
from hotline.timeutil import utcnow
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_admin_clears_failed_logins_and_signs_a_user_out_everywhere(page, make_user):
    admin = make_user("admin", username="admin_wu", display_name="吴管理")
    target = make_user("operator", username="op_sun", display_name="孙接线")
    for _ in range(7):  # at once: the last two come during the wait and are not heard
        authenticate("op_sun", "wrong", client="203.0.113.9", now=utcnow(), throttle=Throttle())
    db.session.commit()

    log_in(page, admin.username)
    row = page.locator("table.list tbody tr").filter(has_text="op_sun")
    expect(row.locator(".badge.danger")).to_have_text("登录已放慢")
    row.locator(".badge.danger").click()
    panel = page.locator("#logins")
    expect(panel).to_contain_text("该账号自上次成功登录以来失败 5 次。")
    expect(panel).to_contain_text("之前的登录尝试将被拒绝。")
    screenshot(page, "admin-user-logins")

    panel.get_by_role("button", name="清除登录失败记录").click()
    expect(page.locator(".flash-success")).to_contain_text("已清除 op_sun 的登录失败记录")
    expect(page.locator("#logins")).to_contain_text("自上次成功登录以来没有失败记录。")

    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator("#logins").get_by_role("button", name="在所有设备上退出").click()
    expect(page.locator(".flash-success")).to_contain_text("op_sun 已在所有浏览器上退出登录")
    assert dialogs == ["要让 op_sun 在所有浏览器上退出登录吗？"]
    expect(page).to_have_url(re.compile(rf"/admin/users/{target.id}$"))
    screenshot(page, "admin-user-signed-out")
