"""Forms under bad input: a clear message, what was typed kept, the right status, never a 500."""

import re

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.tickets import service
from models.ticket import Ticket, TicketEvent
from tests.conftest import post_form
from tests.helpers import count, log_call, reload

STALE = "Someone else changed this ticket"


@pytest.fixture
def desk(client, logged_in, operator):
    """The operator's browser, logged in."""
    return logged_in(operator)


@pytest.fixture
def english_desk(desk):
    assert post_form(desk, "/language", {"locale": "en"}).status_code == 302
    return desk


def call_form(**overrides) -> dict:
    return {
        "phone": "138 1234 1234",
        "caller_name": "王秀英",
        "channel": "voice",
        "category": "illness_hardship",
        "priority": "P1",
        "summary": "父亲突发脑溢血住院",
        "description": "医院要求先交两万元押金",
    } | overrides


def html(response) -> str:
    return response.get_data(as_text=True)


# --- log a call ----------------------------------------------------------------------------


def test_a_good_call_form_creates_the_ticket(desk):
    response = post_form(desk, "/tickets/new", call_form(), page="/tickets/new")
    ticket = db.session.scalar(select(Ticket))
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.number}"


@pytest.mark.parametrize(
    ("overrides", "still_typed"),
    [
        ({"summary": ""}, ['value="王秀英"', "医院要求先交两万元押金"]),
        ({"summary": "   "}, ['value="王秀英"', "医院要求先交两万元押金"]),
        ({"summary": "长" * 201}, ['value="王秀英"', "长" * 201]),
        ({"category": ""}, ["父亲突发脑溢血住院", "医院要求先交两万元押金"]),
        ({"category": "no_such_category"}, ["父亲突发脑溢血住院", 'value="王秀英"']),
        ({"priority": "P9"}, ["父亲突发脑溢血住院", 'value="王秀英"']),
        ({"priority": "P0"}, ["父亲突发脑溢血住院", 'value="138 1234 1234"']),
        ({"priority": "P0", "emergency_service": "911"}, ["父亲突发脑溢血住院"]),
        ({"p0_checks": "fire_now"}, ["父亲突发脑溢血住院", 'value="王秀英"']),
        ({"p1_checks": "no_such_check"}, ["父亲突发脑溢血住院"]),
        ({"answered_on_call": "y", "answer": ""}, ["父亲突发脑溢血住院", 'value="王秀英"']),
        ({"phone": "call me maybe"}, ['value="call me maybe"', "父亲突发脑溢血住院"]),
        ({"phone": "1" * 41}, ["父亲突发脑溢血住院"]),
        ({"caller_name": "名" * 121}, ["父亲突发脑溢血住院"]),
        ({"description": "述" * 4001}, ["父亲突发脑溢血住院", 'value="王秀英"']),
        ({"channel": "fax"}, ["父亲突发脑溢血住院", 'value="王秀英"']),
    ],
    ids=[
        "no-summary",
        "blank-summary",
        "long-summary",
        "no-category",
        "unknown-category",
        "unknown-priority",
        "p0-without-handover",
        "p0-to-911",
        "p0-ticked-but-p1",
        "unknown-check",
        "answered-without-answer",
        "letters-in-phone",
        "long-phone",
        "long-name",
        "long-description",
        "unknown-channel",
    ],
)
def test_bad_call_form_says_what_is_wrong_and_keeps_what_was_typed(desk, overrides, still_typed):
    response = post_form(desk, "/tickets/new", call_form(**overrides), page="/tickets/new")
    page = html(response)
    assert response.status_code == 400
    assert 'class="error"' in page or 'class="flash flash-danger"' in page
    for typed in still_typed:
        assert typed in page
    assert count(Ticket) == 0


def test_p0_call_form_error_names_the_emergency_services(english_desk):
    response = post_form(english_desk, "/tickets/new", call_form(priority="P0"), page="/tickets/new")
    assert response.status_code == 400
    assert "110, 119 or 120" in html(response)


def test_ticked_boxes_stay_ticked_after_an_error(desk):
    form = call_form(summary="", confidential="y", p1_checks=["serious_illness", "stranded"])
    page = html(post_form(desk, "/tickets/new", form, page="/tickets/new"))
    ticked = set(re.findall(r'<input checked id="[^"]+" name="([a-z0-9_]+)" type="checkbox" value="([a-z_]+)"', page))
    assert ticked == {("p1_checks", "serious_illness"), ("p1_checks", "stranded"), ("confidential", "y")}


# --- a stale ticket page -------------------------------------------------------------------


STALE_CASES = {
    "close": ({"resolution": "已发放临时救助3000元"}, "已发放临时救助3000元"),
    "answer": ({"answer": "已告知申请临时救助的材料"}, "已告知申请临时救助的材料"),
    "priority": ({"priority": "P2", "emergency_service": "", "reason": "家属已赶到医院"}, "家属已赶到医院"),
    "merge": ({"target": "{other}", "reason": "同一来电人重复反映"}, "同一来电人重复反映"),
    "transfer": ({"new_owner": "{colleague}", "reason": "下班交接给李建国"}, "下班交接给李建国"),
    "callback": ({"reached": "no", "satisfaction": "", "comment": "电话无人接听稍后再拨"}, "电话无人接听稍后再拨"),
}


@pytest.mark.parametrize("action", list(STALE_CASES))
def test_action_on_a_stale_page_is_refused_with_the_typed_text_kept(
    english_desk, operator, manager, make_user, now, action
):
    colleague = make_user("operator", username="op_li", display_name="李建国")
    ticket = log_call(operator, now)
    other = log_call(operator, now, phone="13900000001")
    page = f"/tickets/{ticket.number}"
    seen_version = ticket.version
    # Meanwhile the manager changes the priority: the page the operator has is out of date.
    service.change_priority(ticket, actor=manager, now=now, priority="P3", reason="督办调整")
    db.session.commit()
    state = (ticket.status, ticket.priority, ticket.first_contact_owner_id, ticket.version)
    events_before = count(TicketEvent)

    data, typed = STALE_CASES[action]
    data = {k: v.format(other=other.number, colleague=colleague.id) for k, v in data.items()}
    response = post_form(english_desk, f"{page}/{action}", data | {"version": seen_version}, page=page)
    text = html(response)
    assert response.status_code == 409
    assert STALE in text and typed in text
    assert (reload(ticket).status, ticket.priority, ticket.first_contact_owner_id, ticket.version) == state
    assert count(TicketEvent) == events_before


def test_taking_a_ticket_someone_else_just_took_says_it_has_an_owner(desk, make_user, now):
    colleague = make_user("operator", username="op_li")
    ticket = service.open_unclaimed_ticket(now=now, channel="sms", phone="13812341234", summary="求助")
    db.session.commit()
    seen_version = ticket.version
    service.take_ticket(ticket, actor=colleague, now=now)
    db.session.commit()
    response = post_form(desk, f"/tickets/{ticket.number}/take", {"version": seen_version}, page="/desk")
    assert response.status_code == 400 and 'class="flash flash-danger"' in html(response)
    assert reload(ticket).first_contact_owner_id == colleague.id


# --- garbage -------------------------------------------------------------------------------


@pytest.fixture
def world(operator, make_user, now):
    colleague = make_user("operator", username="op_li")
    ticket = log_call(operator, now)
    return {"ticket": ticket, "colleague": colleague}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/desk?page=-1", 200),
        ("/desk?page=0", 200),
        ("/desk?page=abc", 200),
        ("/desk?page=999999", 200),
        ("/desk?page=99999999999999999999999", 404),
        ("/desk?scope=everything&status=lost&priority=P9&channel=fax", 200),
        ("/desk?q=" + "9" * 5000, 200),
        ("/desk?q=%25%27%22%3C%3E%5C", 200),
        ("/desk?q=%00", 400),
        ("/tickets/" + "x" * 300, 404),
        ("/tickets/%00", 400),
        ("/tickets/lookup?phone=" + "1" * 5000, 200),
        ("/tickets/lookup?phone=%00%FF", 400),
        ("/tickets/lookup?phone=%FF%FE", 200),
        ("/tickets/new?phone=" + "1" * 5000, 200),
    ],
)
def test_odd_addresses_never_break_a_page(desk, world, url, expected):
    assert desk.get(url).status_code == expected


def test_page_beyond_the_end_of_the_desk_is_empty_not_an_error(desk, world):
    page = html(desk.get("/desk?scope=all&page=50"))
    assert world["ticket"].number not in page


@pytest.mark.parametrize(
    ("action", "data", "expected"),
    [
        ("close", {"resolution": "已办", "version": "abc"}, 400),
        ("close", {"resolution": "已办", "version": ""}, 400),
        ("close", {"resolution": "已办", "version": "1.5"}, 400),
        ("close", {"resolution": "已办", "version": "-1"}, 400),  # out of range: refused before the view
        ("close", {"resolution": "已办", "version": "9" * 40}, 400),
        ("close", {"resolution": "办" * 4001, "version": "{v}"}, 400),
        ("priority", {"priority": "P9", "reason": "x", "version": "{v}"}, 400),
        ("priority", {"priority": "P0", "emergency_service": "999", "reason": "x", "version": "{v}"}, 400),
        ("transfer", {"new_owner": "999999", "reason": "交班", "version": "{v}"}, 400),
        ("transfer", {"new_owner": "abc", "reason": "交班", "version": "{v}"}, 400),
        ("transfer", {"new_owner": "{owner}", "reason": "交班", "version": "{v}"}, 400),
        ("merge", {"target": "209912319999", "reason": "重复", "version": "{v}"}, 400),
        ("merge", {"target": "{number}", "reason": "重复", "version": "{v}"}, 400),
        ("merge", {"target": "x" * 100, "reason": "重复", "version": "{v}"}, 400),
        ("merge", {"target": "%' OR 1=1 --", "reason": "重复", "version": "{v}"}, 400),
        ("callback", {"reached": "maybe", "version": "{v}"}, 400),
        ("callback", {"reached": "yes", "satisfaction": "9", "version": "{v}"}, 400),
        ("callback", {"reached": "yes", "satisfaction": "", "version": "{v}"}, 400),
        ("callback", {"reached": "no", "satisfaction": "5", "version": "{v}"}, 400),
        ("note", {"text": "记" * 4001}, 400),
        ("note", {"text": ""}, 400),
        ("reopen", {"reason": "再次来电", "version": "{v}"}, 400),
        ("take", {"version": "{v}"}, 400),
        ("contact", {"id_number": "abc", "township_id": "0", "village_id": "0"}, 400),
        ("contact", {"township_id": "abc", "village_id": "0"}, 400),
        ("contact", {"township_id": "999999", "village_id": "0"}, 400),
        ("unmask", {"reason": "因" * 501}, 400),
    ],
)
def test_garbage_in_ticket_actions_is_a_clear_refusal(desk, world, action, data, expected):
    ticket = world["ticket"]
    values = {"v": ticket.version, "owner": ticket.first_contact_owner_id, "number": ticket.number}
    data = {k: v.format(**values) for k, v in data.items()}
    before = (ticket.status, ticket.version, count(TicketEvent))
    page = f"/tickets/{ticket.number}"
    response = post_form(desk, f"{page}/{action}", data, page=page)
    assert response.status_code == expected
    assert 'class="error"' in html(response) or 'class="flash flash-danger"' in html(response)
    assert (reload(ticket).status, ticket.version, count(TicketEvent)) == before


def test_merge_into_an_unknown_number_names_it(english_desk, world):
    ticket = world["ticket"]
    page = f"/tickets/{ticket.number}"
    data = {"target": "209912319999", "reason": "重复", "version": ticket.version}
    response = post_form(english_desk, f"{page}/merge", data, page=page)
    assert "There is no ticket with number 209912319999" in html(response)


@pytest.mark.parametrize("field", ["summary", "description", "caller_name"])
def test_nul_character_in_a_call_form_is_refused_not_a_crash(desk, field):
    response = post_form(desk, "/tickets/new", call_form(**{field: "王\x00秀英"}), page="/tickets/new")
    assert response.status_code == 400
    assert count(Ticket) == 0


def test_oversized_post_is_refused(desk):
    response = post_form(desk, "/tickets/new", call_form(description="x" * (2 * 1024 * 1024)), page="/tickets/new")
    assert response.status_code == 413
    assert count(Ticket) == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/admin/users?page=-5", 200),
        ("/admin/users?page=abc", 200),
        ("/admin/audit?page=99999", 200),
        ("/admin/audit?page=99999999999999999999", 404),
    ],
)
def test_admin_lists_take_any_page_number(client, logged_in, make_user, url, expected):
    logged_in(make_user("admin"))
    assert client.get(url).status_code == expected


def test_nul_character_in_a_note_is_refused_and_nothing_written(desk, world):
    page = f"/tickets/{world['ticket'].number}"
    events_before = count(TicketEvent)
    assert post_form(desk, page + "/note", {"text": "已联系\x00医院"}, page=page).status_code == 400
    assert count(TicketEvent) == events_before
