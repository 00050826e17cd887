"""Referrals over HTTP: the panel on the ticket page, the department inbox and referral page, isolation."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from models.referral import Referral
from models.ticket import TicketEvent
from tests.conftest import login, post_form


@pytest.fixture
def world(make_department, make_user, operator, now):
    civil = make_department("civil_affairs", "县民政局")
    medins = make_department("medical_insurance", "县医疗保障局")
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    village = make_department("village_dongguan", "东关社区", kind="community", level="village", parent=town)
    staff = {
        "civil": make_user("department", username="civil1", department=civil),
        "medins": make_user("department", username="medins1", department=medins),
        "town": make_user("department", username="town1", department=town),
        "village": make_user("department", username="village1", department=village),
    }
    ticket = ts.log_call(
        actor=operator, now=now, phone="13812341234", category="illness_hardship", priority="P2", summary="住院押金困难"
    )
    other = ts.log_call(actor=operator, now=now, phone="13912341234", category="housing", priority="P3", summary="危房")
    db.session.commit()
    return {
        "civil": civil,
        "medins": medins,
        "town": town,
        "village": village,
        "staff": staff,
        "ticket": ticket,
        "other": other,
    }


def test_owner_dispatches_from_the_ticket_page(client, logged_in, operator, world):
    logged_in(operator)
    t = world["ticket"]
    page = f"/tickets/{t.number}"
    html = client.get(page).get_data(as_text=True)
    assert "县民政局" in html  # the catalogue suggestion
    r = post_form(
        client,
        f"{page}/referrals",
        {"department_id": world["civil"].id, "role": "lead", "instructions": "请核实家庭情况", "version": t.version},
        page=page,
    )
    assert r.status_code == 302
    referral = db.session.scalar(select(Referral))
    assert referral.department_id == world["civil"].id and referral.status == "dispatched"
    html = client.get(page).get_data(as_text=True)
    assert "请核实家庭情况" in html


def test_refused_dispatch_keeps_what_was_typed(client, logged_in, operator, world):
    logged_in(operator)
    t = world["ticket"]
    page = f"/tickets/{t.number}"
    r = post_form(
        client,
        f"{page}/referrals",
        {"department_id": world["medins"].id, "role": "assist", "instructions": "协助报销", "version": t.version},
        page=page,
    )
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "协助报销" in html and "flash-danger" in html
    assert db.session.scalar(select(Referral)) is None


def test_department_inbox_shows_only_its_unit(client, logged_in, operator, world, now):
    t = world["ticket"]
    rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now, instructions="请核实")
    db.session.commit()
    logged_in(world["staff"]["civil"])
    html = client.get("/inbox").get_data(as_text=True)
    assert t.number in html and "请核实" in html
    assert "13812341234" not in html
    assert world["other"].number not in html


@pytest.mark.parametrize("who", ["medins", "village"])
def test_other_units_get_404_on_the_ticket_and_the_referral(client, operator, world, now, who):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    db.session.commit()
    login(client, world["staff"][who].username)
    assert client.get(f"/tickets/{t.number}").status_code == 404
    assert client.get(f"/referrals/{referral.id}").status_code == 404
    assert client.get("/tickets/20990101999").status_code == 404
    for action in ("acknowledge", "progress", "return", "extension", "resolve", "unmask", "pass-on"):
        assert post_form(client, f"/referrals/{referral.id}/{action}", {"version": referral.version}).status_code == 404
    assert t.number not in client.get("/inbox").get_data(as_text=True)


def test_department_staff_cannot_use_hotline_actions(client, operator, world, now):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    db.session.commit()
    login(client, "civil1")
    for url in (
        f"/tickets/{t.number}/referrals",
        f"/referrals/{referral.id}/cancel",
        f"/referrals/{referral.id}/return-decision",
        f"/referrals/{referral.id}/extension-decision",
        f"/tickets/{t.number}/close",
        f"/tickets/{t.number}/note",
    ):
        assert post_form(client, url, {"version": 1}).status_code == 404, url
    # Their own referral's ticket URL takes them to the referral page, never the ticket page.
    r = client.get(f"/tickets/{t.number}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/referrals/{referral.id}")
    assert client.get(f"/tickets/{world['other'].number}").status_code == 404


def test_unit_acknowledges_resolves_and_owner_is_told(client, operator, world, now):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    db.session.commit()
    login(client, "civil1")
    page = f"/referrals/{referral.id}"
    html = client.get(page).get_data(as_text=True)
    assert "138****1234" in html and "13812341234" not in html
    assert post_form(client, f"{page}/acknowledge", {"version": referral.version}, page=page).status_code == 302
    db.session.refresh(referral)
    r = post_form(
        client,
        f"{page}/resolve",
        {"outcome": "relief_granted", "result": "发放临时救助2000元", "version": referral.version},
        page=page,
    )
    assert r.status_code == 302
    db.session.refresh(t)
    assert t.status == "pending_callback"


def test_stale_acknowledge_is_refused_cleanly(client, operator, world, now):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    db.session.commit()
    login(client, "civil1")
    page = f"/referrals/{referral.id}"
    r = post_form(
        client,
        f"{page}/return",
        {"reason": "not_our_remit", "comment": "不属于民政职责", "version": referral.version + 5},
        page=page,
    )
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "不属于民政职责" in html
    db.session.refresh(referral)
    assert referral.status == "dispatched"


def test_unit_sees_only_its_own_referral_timeline(client, operator, world, now):
    t = world["ticket"]
    civil = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    medins = rs.dispatch_referral(t, department=world["medins"], role="assist", actor=operator, now=now)
    rs.acknowledge(medins, actor=world["staff"]["medins"], now=now)
    rs.add_progress(medins, actor=world["staff"]["medins"], now=now, text="医保内部备注：报销比例已核")
    ts.add_note(t, actor=operator, now=now, text="热线内部备注")
    db.session.commit()
    login(client, "civil1")
    html = client.get(f"/referrals/{civil.id}").get_data(as_text=True)
    assert "医保内部备注" not in html and "热线内部备注" not in html


def test_township_passes_on_over_http_and_village_sees_it(client, operator, world, now):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["town"], role="lead", actor=operator, now=now)
    rs.acknowledge(referral, actor=world["staff"]["town"], now=now)
    db.session.commit()
    login(client, "town1")
    page = f"/referrals/{referral.id}"
    r = post_form(
        client,
        f"{page}/pass-on",
        {"department_id": world["village"].id, "instructions": "请入户走访", "version": referral.version},
        page=page,
    )
    assert r.status_code == 302
    child = db.session.scalar(select(Referral).where(Referral.parent_id == referral.id))
    assert child.department_id == world["village"].id


def test_manager_decides_extension_over_http(client, operator, manager, world, now):
    t = world["ticket"]
    referral = rs.dispatch_referral(t, department=world["civil"], role="lead", actor=operator, now=now)
    rs.acknowledge(referral, actor=world["staff"]["civil"], now=now)
    rs.request_extension(
        referral,
        actor=world["staff"]["civil"],
        now=now,
        reason="等证明",
        until=referral.resolve_due_at + timedelta(days=3),
    )
    db.session.commit()
    login(client, manager.username)
    page = f"/tickets/{t.number}"
    r = post_form(
        client,
        f"/referrals/{referral.id}/extension-decision",
        {
            f"e{referral.id}-{key}": value
            for key, value in {"decision": "approve", "comment": "同意", "version": referral.version}.items()
        },
        page=page,
    )
    assert r.status_code == 302
    db.session.refresh(referral)
    assert referral.extension_state == "approved"
    kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.referral_id == referral.id)).all()
    assert "extension_approved" in kinds
