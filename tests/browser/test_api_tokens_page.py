"""The API token pages in a real browser: an admin creates a unit's token, copies its secret, revokes it."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hotline.extensions import db
from models.api_token import ApiToken
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_an_admin_creates_a_token_sees_its_secret_once_and_revokes_it(page, make_user, civil):
    admin = make_user("admin", username="root", display_name="系统管理员")
    log_in(page, admin.username)
    page.get_by_role("link", name="接口令牌").click()
    expect(page.locator("td.empty")).to_contain_text("还没有接口令牌")
    page.get_by_role("link", name="新建令牌").click()
    page.locator("input[name=name]").fill("民政业务系统")
    page.get_by_label("referrals：办理本单位的转介（需指定单位）").check()
    page.get_by_role("button", name="创建令牌").click()
    expect(page.locator(".flash-danger")).to_contain_text("referrals 权限需要指定单位")
    page.locator("select[name=department_id]").select_option(label="县民政局 (civil_affairs)")
    page.get_by_label("read：查询工单，个人信息脱敏").check()
    page.get_by_role("button", name="创建令牌").click()
    secret = page.locator("#token-secret").inner_text()
    assert re.fullmatch(r"hk_[A-Za-z0-9_\-]{43}", secret)
    screenshot(page, "api-token-created")
    page.get_by_role("link", name="返回令牌列表").click()
    row = page.locator("table.list tbody tr").first
    expect(row).to_contain_text("民政业务系统")
    expect(row).to_contain_text("read, referrals")
    expect(row).to_contain_text("县民政局")
    expect(row).to_contain_text("从未")
    expect(page.locator("main")).not_to_contain_text(secret)
    screenshot(page, "api-token-list")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="吊销").click()
    expect(page.locator(".flash-success")).to_contain_text("令牌 民政业务系统 已吊销")
    expect(page.locator("table.list tbody tr").first).to_contain_text("已于")
    assert db.session.scalar(select(ApiToken)).revoked_at is not None
    screenshot(page, "api-token-revoked")
