"""The alert import in a browser: upload, preview, confirm, the progress bar runs to the end by itself."""

import re

from playwright.sync_api import expect

from hotline.extensions import db
from models.ticket import Ticket
from tests.alert_files import big_export, dirty_workbook
from tests.browser.conftest import log_in, screenshot


def test_an_admin_imports_a_file_and_watches_it_finish(page, make_department, make_user, tmp_path):
    east = make_department("t_east", "东镇", "township", "township")
    south = make_department("t_south", "南乡", "township", "township")
    make_department("v_dongcun", "东村", "village", "village", parent=east)
    make_department("v_nancun", "南村", "village", "village", parent=south)
    make_user("admin", username="adm")
    log_in(page, "adm")
    page.get_by_role("link", name="导入预警").click()
    screenshot(page, "alert-import-upload")
    path = tmp_path / "预警名单.xlsx"
    path.write_bytes(dirty_workbook())
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="检查文件").click()
    expect(page.locator("[data-field=figures]")).to_contain_text("12 行：5 行可以导入，7 行有错误")
    expect(page.locator("tr[data-row='9']")).to_contain_text("与第3行重复（预警编号相同）。")
    screenshot(page, "alert-import-preview")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="导入 5 行").click()
    expect(page.locator("[data-status=done]")).to_contain_text("已导入", timeout=30_000)
    expect(page.locator("[data-count=created]")).to_have_text("5")
    screenshot(page, "alert-import-done")
    assert db.session.query(Ticket).count() == 5


def test_the_progress_bar_moves_through_a_bigger_file(page, make_department, make_user, tmp_path):
    east = make_department("t_east", "东镇", "township", "township")
    make_department("v_dongcun", "东村", "village", "village", parent=east)
    make_user("admin", username="adm")
    log_in(page, "adm")
    page.goto("/alerts/import")
    path = tmp_path / "big.xlsx"
    path.write_bytes(big_export(300, [("东镇", "东村")]))
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="检查文件").click()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="导入 300 行").click()
    expect(page.locator("[data-progress-text]")).to_have_text(re.compile(r"已导入 \d+ / 300 行"))
    expect(page.locator(".no-script-step")).to_be_hidden()
    expect(page.locator("[data-status=done]")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-count=created]")).to_have_text("300")
