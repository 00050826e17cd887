"""Field staff's phone pages at 375 px: report a case, follow it, visit households, the one-tap ticket.

Every page must fit the phone's width: no sideways scrolling (``scrollWidth <= 375``). Screenshots land in
``test-artifacts/`` and ``/tmp/grid-phone-*.png``.
"""

import shutil
from datetime import timedelta
from pathlib import Path
from tempfile import gettempdir

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from hotline.timeutil import utcnow
from models.external_report import ExternalReport
from models.visit import Visit
from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, log_in, screenshot
from tests.grid_helpers import (
    field_fixture,  # noqa: F401  (the ``field`` fixture)
    household,
    noisy_png,
    png_bytes,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def phone(browser, live_server, app, tmp_path):
    """A phone-sized tab on the live server; a script error, a console error or a failed load fails the test."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "photos")
    context = browser.new_context(
        base_url=live_server, viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"script: {exc}"))
    tab.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load") and errors.append(m.text))
    tab.on("response", lambda r: r.status >= 400 and r.request.resource_type != "document" and errors.append(r.url))
    yield tab
    context.close()
    assert not errors, "\n".join(errors)


def fits(page, name: str) -> None:
    """The page has no sideways scroll at 375 px; its screenshot is kept for a person to look at."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    screenshot(page, f"grid-phone-{name}")
    shutil.copy(ARTIFACTS / f"grid-phone-{name}.png", Path(gettempdir()) / f"grid-phone-{name}.png")
    assert width <= PHONE["width"], f"{name}: {width} px wide"


def test_a_grid_worker_reports_a_case_with_a_photo_and_follows_it(phone, field, tmp_path):
    household(field.village, utcnow(), is_elderly=True, lives_alone=True)
    picture = tmp_path / "photo.png"
    picture.write_bytes(png_bytes(40, 30))
    log_in(phone, field.grid_worker.username)
    phone.goto("/grid/report")
    expect(phone.locator("select[name=village_id]")).to_have_value(str(field.village.id))
    fits(phone, "report-empty")
    phone.locator("input[name=name]").fill("不知姓名老人")
    phone.locator("input[name=phone]").fill("13912345678")
    phone.locator("input[name=address]").fill("东关社区桥头公交站")
    phone.locator("textarea[name=text]").fill("桥头有一位外地老人走失迷路，说不清住址，天冷衣服单薄")
    phone.locator("label.seg-urgent").click()
    phone.locator("input[name=photo]").set_input_files(str(picture))
    submit = phone.locator("main form button[type=submit]")
    assert submit.bounding_box()["width"] > 300  # a button the width of the screen
    fits(phone, "report-filled")
    submit.click()
    report = db.session.query(ExternalReport).one()
    expect(phone.locator(".flash-success")).to_contain_text(f"工单 {report.ticket.number} 已送达热线")
    expect(phone.locator("main")).to_contain_text("热线已收到，接线员将尽快受理。")
    expect(phone.locator("main")).to_contain_text("139****5678")
    photo = phone.locator("img.report-photo")
    expect(photo).to_be_visible()
    assert phone.evaluate("document.querySelector('img.report-photo').naturalWidth") == 40
    assert report.ticket.source == "grid" and report.ticket.priority == "P1"
    fits(phone, "report-confirmed")
    phone.locator("nav.mainnav a", has_text="我的报告").click()
    card = phone.locator("ul.cards li.card").first
    expect(card).to_contain_text(report.ticket.number)
    expect(card).to_contain_text("待认领")
    fits(phone, "my-reports")


def test_a_visit_is_recorded_from_the_phone_and_its_difficulty_becomes_a_ticket(phone, field):
    now = utcnow()
    late = household(field.village, now - timedelta(days=45), is_elderly=True, lives_alone=True)
    late.address = "东关社区三组12号（村委会东侧第二户，门口有棵大槐树）"
    household(field.village, now - timedelta(days=80), name="赵敏", social_assistance=True)
    household(field.village, now - timedelta(days=25), name="刘淑芬", left_behind_children=True)
    db.session.commit()
    log_in(phone, field.grid_worker.username)
    phone.goto("/grid/visits")
    cards = phone.locator("ul.cards li.card")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text("王秀英")
    expect(cards.first).to_contain_text("逾期")
    fits(phone, "visits")
    cards.first.locator("a.button").click()
    expect(phone.locator("h1")).to_have_text("王秀英")
    phone.locator("label.seg", has_text="是").click()
    phone.locator("textarea[name=condition]").fill("轮椅坏了，已两周无法出门，药快吃完了。")
    phone.locator("textarea[name=needs]").fill("维修轮椅，代购降压药")
    phone.locator("input[name=difficulty]").check()
    fits(phone, "visit-form")
    phone.locator("main form button[type=submit]").click()
    expect(phone.locator(".flash-success")).to_contain_text("已记录探访")
    expect(phone.locator(".one-tap")).to_contain_text("探访 王秀英 发现困难：维修轮椅，代购降压药")
    fits(phone, "visit-one-tap")
    phone.locator(".one-tap button[type=submit]").click()
    visit = db.session.query(Visit).one()
    db.session.refresh(visit)
    expect(phone.locator(".flash-success")).to_contain_text(f"工单 {visit.ticket.number} 已送达热线")
    assert visit.ticket.source == "visit"
    fits(phone, "visit-ticket")


def test_the_village_inbox_lists_overdue_visits_on_a_phone(phone, field):
    household(field.village, utcnow() - timedelta(days=45), is_elderly=True, lives_alone=True)
    log_in(phone, field.village_staff.username)
    phone.goto("/inbox")
    section = phone.locator("section.overdue-visits")
    expect(section).to_contain_text("逾期探访")
    expect(section).to_contain_text("王秀英")
    fits(phone, "inbox-overdue")


def test_a_photo_larger_than_the_limit_is_made_smaller_before_it_is_sent(phone, field, tmp_path):
    big = tmp_path / "camera.png"
    big.write_bytes(noisy_png(720, 600))  # random pixels barely compress: about 1.3 MB
    assert big.stat().st_size > 1024 * 1024
    log_in(phone, field.village_staff.username)
    phone.goto("/grid/report")
    phone.locator("input[name=name]").fill("李四")
    phone.locator("textarea[name=text]").fill("房屋漏雨严重，墙体开裂")
    phone.locator("input[name=photo]").set_input_files(str(big))
    submit = phone.locator("main form button[type=submit]")
    expect(submit).to_be_enabled()
    assert phone.evaluate("document.querySelector('input[name=photo]').files[0].type") == "image/jpeg"
    submit.click()
    expect(phone.locator(".flash-success")).to_contain_text("已送达热线")
    report = db.session.query(ExternalReport).one()
    assert report.extra["photo_type"] == "image/jpeg"
    stored = tmp_path / "photos" / report.extra["photo"]
    assert stored.stat().st_size <= 900 * 1024


def test_the_phone_pages_fit_in_english_too(phone, field):
    household(field.village, utcnow() - timedelta(days=45), is_elderly=True, lives_alone=True)
    log_in(phone, field.grid_worker.username)
    phone.locator(".langswitch button").click()
    expect(phone.locator("nav.mainnav")).to_contain_text("My reports")
    phone.goto("/grid/report")
    expect(phone.locator("label.seg-danger")).to_contain_text("Danger to life")
    fits(phone, "report-english")
    phone.goto("/grid/visits")
    expect(phone.locator("ul.cards")).to_contain_text("days overdue")
    fits(phone, "visits-english")
