"""Intake on the desk: the live calls panel, the answered call's ticket, answering by SMS, the duty roster."""

from sqlalchemy import select

from hotline.extensions import db
from models.duty import DutyLine
from models.interaction import Interaction
from models.outbox import OutboundMessage
from models.ticket import Ticket
from tests.conftest import post_form
from tests.helpers import audit_kinds, count, event_kinds, reload, timeline_kinds
from tests.twilio_helpers import CALLER, call_form, sms_form, twilio_post

SID = "CA" + "1" * 32


def answered_call(client, user, now) -> Interaction:
    """A call that reached the line and that ``user`` answered on their duty line."""
    line = DutyLine(user_id=user.id, label="desk", phone="+8613900000001", on_duty=True, position=1, updated_at=now)
    db.session.add(line)
    db.session.commit()
    twilio_post(client, "/twilio/voice", call_form())
    twilio_post(client, "/twilio/voice/menu", call_form(Digits="1"))
    leg = call_form(sid="CA" + "2" * 32, ParentCallSid=SID, CallStatus="in-progress")
    twilio_post(client, f"/twilio/voice/status?duty={line.id}", leg)
    return db.session.scalar(select(Interaction).where(Interaction.provider_sid == SID))


# --- the live panel ---------------------------------------------------------------------------------


def test_the_live_panel_lists_calls_and_unclaimed_tickets(client, logged_in, operator, make_user, now):
    other = make_user("operator")
    answered_call(client, other, now)
    twilio_post(client, "/twilio/sms", sms_form(sender="+8613700001111"))
    logged_in(operator)
    data = client.get("/desk/live").get_json()
    [row] = data["calls"]
    assert row["from"] == "138****1234"
    assert (row["state"], row["answered_by"], row["mine"], row["draft_url"]) == (
        "in_call",
        other.display_name,
        False,
        None,
    )
    assert row["line"]
    [waiting] = data["unclaimed"]
    ticket = db.session.scalar(select(Ticket))
    assert waiting["number"] == ticket.number and waiting["version"] == ticket.version
    assert waiting["take_url"] == f"/tickets/{ticket.number}/take"
    assert "13700001111" not in str(data)


def test_the_live_panel_is_for_the_desk_only(client, logged_in, make_user):
    assert client.get("/desk/live").status_code == 302
    logged_in(make_user("admin"))
    assert client.get("/desk/live").status_code == 403


def test_the_desk_page_carries_the_live_panels(client, logged_in, operator):
    logged_in(operator)
    html = client.get("/desk").get_data(as_text=True)
    assert 'id="live-calls"' in html and 'data-live-url="/desk/live"' in html
    assert 'id="unclaimed"' in html and "js/desk_live.js" in html


# --- the answered call becomes a ticket -------------------------------------------------------------


def test_the_operator_who_took_the_call_completes_its_ticket_and_owns_it(client, logged_in, operator, now):
    recorded = answered_call(client, operator, now)
    logged_in(operator)
    [row] = client.get("/desk/live").get_json()["calls"]
    assert row["mine"] is True and row["draft_url"] == f"/tickets/new?call={recorded.id}"
    form = client.get(row["draft_url"]).get_data(as_text=True)
    assert CALLER in form
    r = post_form(
        client,
        row["draft_url"],
        {
            "phone": CALLER,
            "channel": "voice",
            "category": "illness_hardship",
            "priority": "P1",
            "summary": "父亲脑溢血住院，拿不出押金",
        },
        page=row["draft_url"],
    )
    assert r.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.first_contact_owner_id == operator.id and ticket.status == "open"
    # The call that reached the line is the ticket's call: no second one is recorded.
    assert count(Interaction) == 1
    assert reload(recorded).ticket_id == ticket.id
    [row] = client.get("/desk/live").get_json()["calls"]
    assert row["ticket"]["number"] == ticket.number and row["draft_url"] is None
    assert client.get(f"/tickets/new?call={recorded.id}").status_code == 404


def test_another_operator_cannot_take_over_the_call(client, logged_in, operator, make_user, now):
    recorded = answered_call(client, make_user("operator"), now)
    logged_in(operator)
    assert client.get(f"/tickets/new?call={recorded.id}").status_code == 404


def test_a_manager_may_complete_any_answered_call(client, logged_in, manager, operator, now):
    recorded = answered_call(client, operator, now)
    logged_in(manager)
    assert client.get(f"/tickets/new?call={recorded.id}").status_code == 200


# --- answering by SMS ----------------------------------------------------------------------------------


def sms_ticket(client) -> Ticket:
    twilio_post(client, "/twilio/sms", sms_form())
    return db.session.scalar(select(Ticket))


def test_an_operator_answers_by_sms_and_the_reply_lands_on_the_same_ticket(client, logged_in, operator):
    ticket = sms_ticket(client)
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    assert 'id="action-sms"' in client.get(page).get_data(as_text=True)
    r = post_form(client, page + "/sms", {"text": "您好，我们已联系镇里，今天下午有人上门。"}, page=page)
    assert r.status_code == 302
    message = db.session.scalar(select(OutboundMessage))
    assert (message.to_number, message.status, message.ticket_id) == (CALLER, "queued", ticket.id)
    outbound = message.interaction
    assert (outbound.direction, outbound.channel, outbound.handled_by_id) == ("outbound", "sms", operator.id)
    assert event_kinds(ticket)[-1] == "sms_out"
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="好的，谢谢"))
    assert count(Ticket) == 1
    assert timeline_kinds(ticket)[-1] == "sms_in"
    html = client.get(page).get_data(as_text=True)
    assert "好的，谢谢" in html and "今天下午有人上门" in html


def test_an_opted_out_caller_cannot_be_texted(client, logged_in, operator):
    ticket = sms_ticket(client)
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="退订"))
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    assert "sms-opted-out" in client.get(page).get_data(as_text=True)
    r = post_form(client, page + "/sms", {"text": "您好"}, page=page)
    assert r.status_code == 400
    assert "STOP" in r.get_data(as_text=True)
    assert count(OutboundMessage) == 0


def test_an_empty_sms_is_refused(client, logged_in, operator):
    ticket = sms_ticket(client)
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    assert post_form(client, page + "/sms", {"text": "  "}, page=page).status_code == 400
    assert count(OutboundMessage) == 0


# --- the duty roster -------------------------------------------------------------------------------------


def test_an_admin_puts_operators_on_the_roster(client, logged_in, make_user, operator):
    admin = make_user("admin")
    logged_in(admin)
    r = post_form(
        client,
        "/admin/duty/new",
        {"user_id": operator.id, "phone": "139 0000 0001", "position": 1, "on_duty": "y"},
        page="/admin/duty/new",
    )
    assert r.status_code == 302
    line = db.session.scalar(select(DutyLine))
    assert (line.phone, line.user_id, line.on_duty, line.label) == ("+8613900000001", operator.id, True, "张晓红")
    assert "duty_line_saved" in audit_kinds()
    assert "139****0001" in client.get("/admin/duty").get_data(as_text=True)
    r = post_form(
        client, f"/admin/duty/{line.id}", {"user_id": operator.id, "phone": "+8613900000001"}, page="/admin/duty"
    )
    assert r.status_code == 302 and reload(line).on_duty is False


def test_a_duty_line_rings_a_number_or_a_client_not_both(client, logged_in, make_user):
    logged_in(make_user("admin"))
    both = {"user_id": 0, "phone": "13900000001", "client_identity": "desk1", "position": 1}
    assert post_form(client, "/admin/duty/new", both, page="/admin/duty/new").status_code == 400
    neither = {"user_id": 0, "position": 1}
    assert post_form(client, "/admin/duty/new", neither, page="/admin/duty/new").status_code == 400
    bad = {"user_id": 0, "phone": "12345", "position": 1}
    assert post_form(client, "/admin/duty/new", bad, page="/admin/duty/new").status_code == 400
    assert count(DutyLine) == 0


def test_only_admins_edit_the_roster(client, logged_in, operator):
    logged_in(operator)
    assert client.get("/admin/duty").status_code == 403
