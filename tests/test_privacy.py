"""Personal data (个人信息保护法): numbers normalised, masked on every screen, unmasked only for a reason."""

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.privacy import mask_id_number, mask_phone, normalize_phone
from models.interaction import Interaction
from models.ticket import Ticket
from tests.conftest import post_form
from tests.helpers import PHONE, PHONE_E164, count, events, log_call

ID_NUMBER = "11010119900307123X"
MASKED_PHONE = "138****1234"
MASKED_ID = "1101**********123X"


# --- the helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812341234", "+8613812341234"),
        ("138 1234 1234", "+8613812341234"),
        ("138-1234-1234", "+8613812341234"),
        ("+86 138 1234 1234", "+8613812341234"),
        ("008613812341234", "+8613812341234"),
        ("010 6512 3456", "+861065123456"),  # Beijing landline
        ("+1 650 253 0000", "+16502530000"),  # a caller from abroad keeps their country
        ("+852 2123 4567", "+85221234567"),
    ],
)
def test_valid_numbers_are_normalised_to_e164_with_china_as_default(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", [None, "", "   ", "12345", "abc", "1381234", "+86 000 0000 0000", "1" * 65])
def test_invalid_numbers_normalise_to_none(raw):
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613812341234", "138****1234"),
        ("+861065123456", "106****3456"),
        ("13812341234", "138****1234"),
        ("12345", "***45"),
        ("7", "*7"),
        (None, ""),
        ("", ""),
    ],
)
def test_phone_masking_keeps_only_the_ends(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("id_number", "masked"),
    [
        ("110101199003071234", "1101**********1234"),
        ("11010119900307123X", "1101**********123X"),
        ("110101900307123", "1101*******7123"),  # old 15-digit card
        ("12345678", "********"),
        (None, ""),
    ],
)
def test_id_number_masking_keeps_only_the_ends(id_number, masked):
    assert mask_id_number(id_number) == masked


# --- what pages show -----------------------------------------------------------------------


@pytest.fixture
def ticket(operator, now):
    """An open ticket whose caller has a phone and an ID number on record."""
    t = log_call(operator, now)
    t.contact.id_number = ID_NUMBER
    db.session.commit()
    return t


def assert_no_full_numbers(html: str) -> None:
    for full in ("13812341234", "138 1234 1234", "138-1234-1234", ID_NUMBER, ID_NUMBER[:-1]):
        assert full not in html, f"{full} shown in full"


def test_desk_shows_only_masked_phone_numbers(client, logged_in, operator, ticket):
    logged_in(operator)
    for scope in ("mine", "open", "all"):
        html = client.get(f"/desk?scope={scope}").get_data(as_text=True)
        assert ticket.number in html and MASKED_PHONE in html
        assert_no_full_numbers(html)


def test_ticket_page_shows_only_masked_phone_and_id_numbers(client, logged_in, manager, ticket):
    logged_in(manager)
    html = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert MASKED_PHONE in html and MASKED_ID in html
    assert_no_full_numbers(html)


def test_caller_lookup_answers_with_a_masked_number(client, logged_in, operator, ticket):
    logged_in(operator)
    data = client.get(f"/tickets/lookup?phone={PHONE}").get_json()
    assert data["valid"] and data["phone"] == MASKED_PHONE
    assert data["tickets"][0]["number"] == ticket.number
    assert_no_full_numbers(str(data))


def test_unmasking_with_a_reason_shows_the_numbers_once_and_records_it(client, logged_in, operator, ticket):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    response = post_form(client, page + "/unmask", {"reason": "需回拨核实地址"}, page=page)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert PHONE_E164 in html and ID_NUMBER in html
    [ev] = events(ticket, "unmasked")
    assert ev.payload == {"reason": "需回拨核实地址"} and ev.actor_id == operator.id
    assert "需回拨核实地址" in html  # on the timeline
    # Once: the next visit is masked again.
    again = client.get(page).get_data(as_text=True)
    assert MASKED_PHONE in again
    assert_no_full_numbers(again)


@pytest.mark.parametrize("reason", ["", "   "])
def test_unmasking_without_a_reason_is_refused_and_recorded_nowhere(client, logged_in, operator, ticket, reason):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    response = post_form(client, page + "/unmask", {"reason": reason}, page=page)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'class="error"' in html
    assert_no_full_numbers(html)
    assert events(ticket, "unmasked") == []


def test_invalid_number_typed_on_the_call_form_is_kept_and_flagged(client, logged_in, operator):
    logged_in(operator)
    form = {"phone": "7654321", "category": "other", "priority": "P3", "summary": "来电号码不全", "channel": "voice"}
    response = post_form(client, "/tickets/new", form, page="/tickets/new")
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.contact.phone is None and ticket.contact.phone_raw == "7654321"
    call = db.session.scalar(select(Interaction).where(Interaction.ticket_id == ticket.id))
    assert call.number_invalid and call.from_number == "7654321"
    html = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert "*****21" in html and "7654321" not in html
    assert 'class="badge warn"' in html
    unmasked = post_form(client, f"/tickets/{ticket.number}/unmask", {"reason": "核对号码"}, page="/desk")
    assert "7654321" in unmasked.get_data(as_text=True)


def test_two_spellings_of_one_number_are_one_caller(client, logged_in, operator):
    logged_in(operator)
    for phone in ("138 1234 1234", "+86-138-1234-1234"):
        form = {"phone": phone, "category": "other", "priority": "P3", "summary": "咨询", "channel": "voice"}
        assert post_form(client, "/tickets/new", form, page="/tickets/new").status_code == 302
    contacts = {t.contact.phone for t in db.session.scalars(select(Ticket))}
    assert contacts == {PHONE_E164} and count(Ticket) == 2


def test_id_number_typed_on_the_ticket_page_is_stored_whole_and_shown_masked(client, logged_in, operator, ticket):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    form = {"name": "王秀英", "id_number": "110101199003071234", "address": "", "township_id": "0", "village_id": "0"}
    assert post_form(client, page + "/contact", form, page=page).status_code == 302
    db.session.refresh(ticket.contact)
    assert ticket.contact.id_number == "110101199003071234"
    html = client.get(page).get_data(as_text=True)
    assert "1101**********1234" in html and "110101199003071234" not in html
    assert "110101199003071234" not in str([e.payload for e in events(ticket)])


def test_caller_details_saved_with_the_id_field_left_empty_keep_the_id_on_record(client, logged_in, operator, ticket):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    form = {"name": "王秀英", "id_number": "", "address": "河口村3组", "township_id": "0", "village_id": "0"}
    assert post_form(client, page + "/contact", form, page=page).status_code == 302
    db.session.refresh(ticket.contact)
    assert (ticket.contact.id_number, ticket.contact.address) == (ID_NUMBER, "河口村3组")
    assert events(ticket, "contact_updated")[0].payload == {"fields": ["address"]}
