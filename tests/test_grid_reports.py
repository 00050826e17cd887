"""Grid workers' reports (网格员、协理员报告) and the phone pages: report, my reports, visits, the inbox."""

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.grid import reports, visits
from hotline.referrals import service as referrals
from hotline.tickets import service as tickets
from hotline.timeutil import utcnow
from models.external_report import ExternalReport
from models.ticket import Ticket
from models.visit import Visit, VisitPlan
from tests.conftest import csrf_token
from tests.grid_helpers import (
    field_fixture,  # noqa: F401  (the ``field`` fixture)
    household,
    png_bytes,
)
from tests.helpers import log_call


@pytest.fixture
def photos(app, tmp_path):
    """Each test's own photo folder (the app reads ``UPLOAD_DIR`` at every request)."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "photos")
    return tmp_path / "photos"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_report_becomes_a_proactive_ticket_with_the_reporter_as_source(field, now, photos):
    received = reports.report_case(
        reporter=field.grid_worker,
        now=now,
        text="桥头有一位外地老人走失迷路\n说不清住址，天冷衣服单薄",
        urgency="urgent",
        name="不知姓名老人",
        phone="13912345678",
        village_id=field.village.id,
        address="东关社区桥头公交站",
        photo=png_bytes(),
        photo_dir=photos,
    )
    db.session.commit()
    ticket = received.ticket
    assert (ticket.source, ticket.channel, ticket.status, ticket.priority) == ("grid", "proactive", "new", "P1")
    assert ticket.summary == "桥头有一位外地老人走失迷路"
    assert "天冷衣服单薄" in ticket.description
    assert (ticket.contact.name, ticket.contact.village_id) == ("不知姓名老人", field.village.id)
    assert ticket.contact.township_id == field.town.id
    report = received.report
    assert (report.source, report.via, report.reporter_id) == ("grid", "grid_page", field.grid_worker.id)
    stored = list(photos.iterdir())
    assert [p.name for p in stored] == [report.extra["photo"]]
    assert re.fullmatch(r"[0-9a-f]{32}\.png", stored[0].name) and report.extra["photo_type"] == "image/png"
    assert stored[0].read_bytes() == png_bytes()


def test_danger_to_life_is_p0_and_a_household_brings_its_record(field, now, operator):
    open_ticket = log_call(operator, now - timedelta(hours=1))  # the household's phone has an open ticket
    contact = open_ticket.contact
    contact.village_id, contact.township_id, contact.is_elderly, contact.lives_alone = (
        field.village.id,
        field.town.id,
        True,
        True,
    )
    visits.plan_household(contact, now=now)
    db.session.commit()
    plan = db.session.scalar(select(VisitPlan).where(VisitPlan.contact_id == contact.id))
    received = reports.report_case(
        reporter=field.village_staff,
        now=now,
        text="老人摔倒在家，呼吸困难",
        urgency="danger",
        household_plan_id=plan.id,
    )
    db.session.commit()
    assert (received.outcome, received.ticket.id) == ("added_to_open", open_ticket.id)
    fresh = reports.report_case(
        reporter=field.village_staff,
        now=now,
        text="村口有人晕倒",
        urgency="danger",
        name="路人",
        village_id=field.other_village.id,
    )
    assert fresh.ticket.priority == "P0"


def test_a_report_is_refused_with_a_reason_and_writes_nothing(field, now, photos, make_department):
    ok = {"now": now, "text": "有困难", "urgency": "general", "name": "李四", "village_id": field.village.id}
    with pytest.raises(NotAllowed):
        reports.report_case(reporter=field.bureau_staff, **ok)
    elsewhere = make_department(
        "v_far", "远村", "village", "village", parent=make_department("t_far", "远乡", "township", "township")
    )
    refusals = {
        "photo": ({"photo": b"GIF89a" + b"0" * 20, "photo_dir": photos}, "JPEG 或 PNG"),
        "svg": ({"photo": b"<svg onload=alert(1)>", "photo_dir": photos}, "JPEG 或 PNG"),
        "size": ({"photo": b"\xff\xd8\xff" + b"0" * 900 * 1024, "photo_dir": photos}, "900 KB"),
        "village": ({"village_id": elsewhere.id}, "本乡镇"),
        "who": ({"name": " "}, "姓名"),
        "what": ({"text": ""}, "发生了什么"),
        "urgency": ({"urgency": "P0"}, "紧急程度"),
    }
    for change, message in refusals.values():
        with pytest.raises(DomainError, match=message):
            reports.report_case(reporter=field.grid_worker, **(ok | change))
        db.session.rollback()
    assert _count(Ticket) == 0 and _count(ExternalReport) == 0
    assert not photos.exists() or not list(photos.iterdir())


def _login(client, user):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": user.username, "password": "correct-horse-42", "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_the_report_page_sends_a_report_and_confirms_its_ticket_number(app, client, field, photos, operator):
    _login(client, field.grid_worker)
    page = client.get("/grid/report").get_data(as_text=True)
    # The worker's own village is the place unless they choose another of their township.
    assert re.search(rf'<option selected value="{field.village.id}">东关社区</option>', page)
    assert "西街村" in page and "危及生命" in page
    response = client.post(
        "/grid/report",
        data={
            "csrf_token": csrf_token(client, "/grid/report"),
            "household": "0",
            "name": "不知姓名老人",
            "phone": "13912345678",
            "village_id": str(field.village.id),
            "address": "桥头公交站",
            "text": "桥头有位老人迷路了",
            "urgency": "urgent",
            "photo": (io.BytesIO(png_bytes()), "IMG_0001.HEIC"),  # the name says nothing: the bytes are a PNG
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    report = db.session.scalar(select(ExternalReport))
    assert response.location.endswith(f"/grid/reports/{report.id}")
    status = client.get(response.location).get_data(as_text=True)
    number = report.ticket.number
    assert f"已报告。工单 {number} 已送达热线。" in status
    assert "热线已收到，接线员将尽快受理。" in status and "139****5678" in status and "13912345678" not in status
    photo = client.get(f"/grid/reports/{report.id}/photo")
    assert (photo.status_code, photo.mimetype, photo.data) == (200, "image/png", png_bytes())
    listing = client.get("/grid/reports").get_data(as_text=True)
    assert number in listing and "桥头有位老人迷路了" in listing and "待认领" in listing
    # The hotline sees the photo of a ticket it sees; another village's staff cannot tell it exists.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/grid/reports")})
    _login(client, operator)
    assert client.get(f"/grid/reports/{report.id}/photo").status_code == 200
    assert client.get(f"/grid/reports/{report.id}").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    _login(client, field.town_staff)
    assert client.get(f"/grid/reports/{report.id}/photo").status_code == 404
    assert client.get(f"/grid/reports/{report.id}").status_code == 404


def test_a_refused_report_keeps_what_was_typed(client, field, photos):
    _login(client, field.village_staff)
    response = client.post(
        "/grid/report",
        data={
            "csrf_token": csrf_token(client, "/grid/report"),
            "household": "0",
            "name": "李四",
            "village_id": str(field.village.id),
            "text": "家里断粮三天了",
            "urgency": "urgent",
            "photo": (io.BytesIO(b"%PDF-1.4 not a picture"), "photo.jpg"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "照片必须是 JPEG 或 PNG 图片。" in page and "家里断粮三天了" in page and "李四" in page
    assert _count(ExternalReport) == 0


def test_the_visits_page_records_a_visit_and_a_difficulty_becomes_a_ticket_in_one_tap(client, field):
    now = utcnow()  # the pages read the clock
    late = household(field.village, now - timedelta(days=45), is_elderly=True, lives_alone=True)
    household(field.village, now, name="赵敏", social_assistance=True)  # due in 90 days: not on the due tab
    household(field.other_village, now - timedelta(days=45), name="陈建国", is_elderly=True, lives_alone=True)
    _login(client, field.grid_worker)
    page = client.get("/grid/visits").get_data(as_text=True)
    assert "王秀英" in page and "赵敏" not in page and "陈建国" not in page  # a grid worker visits their village
    assert re.search(r"逾期 \d+ 天", page)
    assert "赵敏" in client.get("/grid/visits?tab=all").get_data(as_text=True)
    plan = db.session.scalar(select(VisitPlan).where(VisitPlan.contact_id == late.id))
    url = f"/grid/visits/{plan.id}"
    refused = client.post(url, data={"csrf_token": csrf_token(client, url), "seen": "yes", "condition": ""})
    assert refused.status_code == 400 and _count(Visit) == 0
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "seen": "yes",
            "condition": "轮椅坏了，两周没出门",
            "needs": "维修轮椅",
            "difficulty": "y",
        },
    )
    visit = db.session.scalar(select(Visit))
    assert response.location.endswith(f"/grid/visit-records/{visit.id}")
    record = client.get(response.location).get_data(as_text=True)
    assert "一键转为工单" in record and "探访 王秀英 发现困难：维修轮椅" in record
    tap = client.post(
        f"/grid/visit-records/{visit.id}/ticket", data={"csrf_token": csrf_token(client, response.location)}
    )
    db.session.expire_all()
    ticket = db.session.get(Visit, visit.id).ticket
    assert ticket.source == "visit" and tap.status_code == 302
    assert f"工单 {ticket.number} 已送达热线。" in client.get(tap.location).get_data(as_text=True)
    assert "维修轮椅" in ticket.summary


def test_overdue_visits_show_in_the_village_and_township_inbox(client, field):
    now = utcnow()
    household(field.village, now - timedelta(days=45), is_elderly=True, lives_alone=True)
    for user, shown in ((field.village_staff, True), (field.town_staff, True), (field.bureau_staff, False)):
        _login(client, user)
        page = client.get("/inbox").get_data(as_text=True)
        assert ("逾期探访" in page and "王秀英" in page) is shown, user.username
        client.post("/logout", data={"csrf_token": csrf_token(client, "/inbox")})


def test_the_visits_sweep_command_prints_what_it_wrote(runner, field, now):
    household(field.village, now - timedelta(days=45), is_elderly=True, lives_alone=True)
    result = runner.invoke(args=["hotline", "visits", "sweep", "--now", "2025-10-09T12:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert '"urge": 1' in result.output and '"warn": 1' in result.output
    again = runner.invoke(args=["hotline", "visits", "sweep", "--now", "2025-10-09T12:00:00+08:00"])
    assert '"steps_written": 0' in again.output
    plan = runner.invoke(args=["hotline", "visits", "plan", "--now", "2025-10-09T12:00:00+08:00"])
    assert plan.exit_code == 0 and '"active_plans": 1' in plan.output
    assert visits  # the module the commands run


def test_an_operator_flags_a_household_on_the_ticket_page_and_it_gets_a_visit_plan(client, field, operator, now):
    ticket = log_call(operator, now)
    _login(client, operator)
    page = f"/tickets/{ticket.number}"
    data = {
        "csrf_token": csrf_token(client, page),
        "name": "王秀英",
        "township_id": str(field.town.id),
        "village_id": str(field.village.id),
        "social_assistance": "y",
        "version": str(ticket.version),
    }
    response = client.post(f"{page}/contact", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    plan = db.session.scalar(select(VisitPlan).where(VisitPlan.contact_id == ticket.contact_id))
    assert (plan.rule, plan.interval_days, plan.village_id) == ("social_assistance", 90, field.village.id)
    assert "社会救助对象" in client.get(page).get_data(as_text=True)


def test_the_photo_shows_on_the_ticket_page_and_the_referred_units_page(client, field, photos, operator, now):
    received = reports.report_case(
        reporter=field.grid_worker,
        now=now,
        text="房屋漏雨严重",
        urgency="general",
        name="李四",
        village_id=field.village.id,
        photo=png_bytes(),
        photo_dir=photos,
    )
    db.session.commit()
    ticket = received.ticket
    tickets.take_ticket(ticket, actor=operator, now=now)
    referral = referrals.dispatch_referral(ticket, department=field.bureau, role="lead", actor=operator, now=now)
    db.session.commit()
    photo = f"/grid/reports/{received.report.id}/photo"
    _login(client, operator)
    assert photo in client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    _login(client, field.bureau_staff)
    assert photo in client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert client.get(photo).status_code == 200
