"""Calls to the hotline: Mandarin menu, ringing the operators on duty, voicemail and missed-call tickets."""

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from hotline.extensions import db
from models.duty import DutyLine
from models.interaction import Interaction
from models.ticket import Ticket, TicketEvent
from tests.helpers import count, event_kinds, log_call, reload
from tests.twilio_helpers import BASE, CALLER, call_form, twilio_post

SID = "CA" + "1" * 32


def twiml(response) -> ElementTree.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    return ElementTree.fromstring(response.get_data(as_text=True))  # noqa: S314  (our own answer)


def path_of(url: str) -> str:
    assert url.startswith(BASE), url
    return url.removeprefix(BASE)


@pytest.fixture
def duty(app, now, make_user):
    """Put lines on the roster: ``duty(user, phone=..., client=..., position=..., on_duty=...)``."""

    def add(user=None, phone=None, client=None, position=10, on_duty=True):
        line = DutyLine(
            user_id=user.id if user else None,
            label=user.display_name if user else (phone or client),
            phone=phone,
            client_identity=client,
            position=position,
            on_duty=on_duty,
            updated_at=now,
        )
        db.session.add(line)
        db.session.commit()
        return line

    return add


def call(client, digits=None, sid=SID, caller=CALLER):
    """The caller reaches the line and answers the menu (``digits`` None: no key); returns the menu's TwiML."""
    greeting = twiml(twilio_post(client, "/twilio/voice", call_form(sid=sid, caller=caller)))
    action = path_of(greeting.find("Gather").get("action"))
    form = call_form(sid=sid, caller=caller, CallStatus="in-progress")
    if digits is not None:
        form["Digits"] = digits
    return twiml(twilio_post(client, action, form))


def the_call(sid=SID) -> Interaction:
    return db.session.scalar(select(Interaction).where(Interaction.provider_sid == sid))


# --- greeting and menu -----------------------------------------------------------------------------


def test_the_line_greets_in_mandarin_and_offers_the_menu(client):
    answer = twiml(twilio_post(client, "/twilio/voice", call_form()))
    gather = answer.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == BASE + "/twilio/voice/menu"
    says = gather.findall("Say")
    assert says and all(s.get("language") == "cmn-CN" for s in says)
    assert "请按1" in says[-1].text and "请按2" in says[-1].text
    # No key at all: Twilio follows the redirect, which counts as the urgent line.
    assert answer.find("Redirect").text == BASE + "/twilio/voice/menu"
    recorded = the_call()
    assert (recorded.channel, recorded.direction, recorded.from_number) == ("voice", "inbound", CALLER)
    assert recorded.contact.phone == CALLER


def test_a_replayed_call_gets_the_same_answer_and_writes_nothing(client):
    first = twilio_post(client, "/twilio/voice", call_form())
    again = twilio_post(client, "/twilio/voice", call_form())
    assert again.get_data() == first.get_data()
    assert count(Interaction) == 1


def test_voice_webhooks_need_a_signature_and_a_call_sid(client):
    assert client.post("/twilio/voice", data=call_form()).status_code == 403
    form = call_form()
    del form["CallSid"]
    assert twilio_post(client, "/twilio/voice", form).status_code == 400
    assert count(Interaction) == 0


def test_a_malformed_caller_number_is_kept_and_flagged(client):
    assert twilio_post(client, "/twilio/voice", call_form(caller="anonymous")).status_code == 200
    recorded = the_call()
    assert recorded.from_number == "anonymous" and recorded.number_invalid is True


# --- ringing the operators ------------------------------------------------------------------------


def test_an_urgent_call_rings_every_operator_on_duty_at_once(client, duty, make_user):
    first = duty(make_user("operator"), phone="+8613900000001", position=1)
    second = duty(make_user("operator"), client="desk-2", position=2)
    duty(make_user("operator"), phone="+8613900000003", on_duty=False)
    answer = call(client, digits="1")
    dials = answer.findall("Dial")
    assert len(dials) == 1
    legs = list(dials[0])
    assert [(leg.tag, leg.text) for leg in legs] == [("Number", "+8613900000001"), ("Client", "desk-2")]
    assert [leg.get("statusCallback") for leg in legs] == [
        f"{BASE}/twilio/voice/status?duty={first.id}",
        f"{BASE}/twilio/voice/status?duty={second.id}",
    ]
    assert dials[0].get("timeout") == "20"
    assert the_call().menu_choice == "urgent"


@pytest.mark.parametrize("digits", [None, "9", "*"])
def test_no_key_or_any_other_key_goes_to_the_urgent_line(client, duty, make_user, digits):
    duty(make_user("operator"), phone="+8613900000001")
    duty(make_user("operator"), phone="+8613900000002")
    assert len(list(call(client, digits=digits).find("Dial"))) == 2
    assert the_call().menu_choice == "urgent"


def test_a_policy_question_rings_the_operators_in_turn_then_takes_a_voicemail(client, duty, make_user):
    duty(make_user("operator"), phone="+8613900000002", position=2)
    duty(make_user("operator"), phone="+8613900000001", position=1)
    answer = call(client, digits="2")
    numbers = [[leg.text for leg in dial] for dial in answer.findall("Dial")]
    assert numbers == [["+8613900000001"]]
    form = call_form(CallStatus="in-progress", DialCallStatus="no-answer")
    answer = twiml(twilio_post(client, path_of(answer.find("Dial").get("action")), form))
    assert [leg.text for leg in answer.find("Dial")] == ["+8613900000002"]
    assert count(Ticket) == 0
    answer = twiml(twilio_post(client, path_of(answer.find("Dial").get("action")), form))
    assert answer.find("Dial") is None and answer.find("Record") is not None
    ticket = db.session.scalar(select(Ticket))
    assert (ticket.channel, ticket.status, ticket.priority) == ("voice", "new", "P3")
    assert the_call().menu_choice == "policy"


def test_an_answered_dial_hangs_up_and_opens_no_ticket(client, duty, make_user):
    duty(make_user("operator"), phone="+8613900000001")
    answer = call(client, digits="1")
    form = call_form(CallStatus="in-progress", DialCallStatus="completed", DialCallDuration="95")
    after = twiml(twilio_post(client, path_of(answer.find("Dial").get("action")), form))
    assert after.find("Hangup") is not None
    assert the_call().answered_at is not None
    assert count(Ticket) == 0


# --- nobody answers ------------------------------------------------------------------------------


def test_with_nobody_on_duty_the_caller_hears_a_call_back_will_come_and_may_leave_a_voicemail(client):
    answer = call(client, digits="1")
    says = [s.text for s in answer.findall("Say")]
    assert "30分钟内给您回电" in says[0]
    record = answer.find("Record")
    assert record.get("action") == BASE + "/twilio/voice/voicemail"
    assert record.get("recordingStatusCallback") == BASE + "/twilio/recording"
    assert answer.find("Hangup") is not None
    ticket = db.session.scalar(select(Ticket))
    recorded = the_call()
    assert (ticket.channel, ticket.status, ticket.priority, ticket.first_contact_owner_id) == (
        "voice",
        "new",
        "P1",
        None,
    )
    assert ticket.contact.phone == CALLER
    assert recorded.ticket_id == ticket.id and recorded.missed_at is not None
    # P1: the call-back is due 30 minutes after the call was missed.
    assert ticket.first_contact_due_at == recorded.missed_at + timedelta(minutes=30)
    assert ticket.next_deadline_at == ticket.first_contact_due_at
    missed = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "missed_call"))
    assert missed.payload["line"] == "urgent" and missed.payload["minutes"] == 30


def test_a_missed_policy_call_gets_the_policy_default_callback_time(client):
    answer = call(client, digits="2")
    assert "2小时内给您回电" in answer.find("Say").text
    ticket = db.session.scalar(select(Ticket))
    assert ticket.priority == "P3"
    assert ticket.first_contact_due_at == the_call().missed_at + timedelta(minutes=120)


def test_a_missed_call_is_written_once_whatever_twilio_sends_after(client):
    answer = call(client, digits="1")
    # Twilio retries the menu; then the call ends (the caller hangs up after the message).
    twilio_post(client, "/twilio/voice/menu", call_form(CallStatus="in-progress", Digits="1"))
    status = call_form(CallStatus="completed", CallDuration="41")
    twilio_post(client, "/twilio/voice/status", status)
    twilio_post(client, "/twilio/voice/status", status)
    assert answer.find("Record") is not None
    assert count(Ticket) == 1
    assert count(TicketEvent, TicketEvent.kind == "missed_call") == 1
    recorded = the_call()
    assert (recorded.status, recorded.duration_seconds) == ("completed", 41)
    assert recorded.ended_at is not None


def test_a_caller_who_hangs_up_before_anyone_answers_is_called_back(client, duty, make_user):
    duty(make_user("operator"), phone="+8613900000001")
    call(client, digits="1")
    twilio_post(client, "/twilio/voice/status", call_form(CallStatus="completed", CallDuration="12"))
    ticket = db.session.scalar(select(Ticket))
    assert ticket is not None and ticket.priority == "P1"
    assert event_kinds(ticket) == ["created", "missed_call"]


def test_a_status_for_a_call_never_seen_still_lands(client):
    twilio_post(client, "/twilio/voice/status", call_form(CallStatus="no-answer"))
    recorded = the_call()
    assert recorded.status == "no-answer"
    assert recorded.ticket_id is not None


# --- status callbacks and recordings --------------------------------------------------------------


def test_the_operators_leg_records_who_answered_and_when(client, duty, make_user):
    operator = make_user("operator")
    line = duty(operator, phone="+8613900000001")
    call(client, digits="1")
    leg = call_form(sid="CA" + "2" * 32, ParentCallSid=SID, Direction="outbound-dial")
    path = f"/twilio/voice/status?duty={line.id}"
    twilio_post(client, path, {**leg, "CallStatus": "ringing"})
    assert the_call().status == "ringing"
    answered = "Thu, 09 Oct 2025 04:00:07 +0000"
    twilio_post(client, path, {**leg, "CallStatus": "in-progress", "Timestamp": answered})
    recorded = reload(the_call())
    assert recorded.status == "in-progress"
    assert recorded.handled_by_id == operator.id
    assert recorded.answered_at.isoformat() == "2025-10-09T04:00:07+00:00"
    twilio_post(client, "/twilio/voice/status", call_form(CallStatus="completed", CallDuration="185"))
    recorded = reload(the_call())
    assert (recorded.status, recorded.duration_seconds) == ("completed", 185)
    assert recorded.ended_at is not None and recorded.missed_at is None
    assert count(Ticket) == 0


def test_the_status_signature_covers_the_query(client, duty, make_user):
    line = duty(make_user("operator"), phone="+8613900000001")
    call(client, digits="1")
    leg = call_form(sid="CA" + "2" * 32, ParentCallSid=SID, CallStatus="in-progress")
    forged = twilio_post(
        client, f"/twilio/voice/status?duty={line.id + 1}", leg, signed_url=f"{BASE}/twilio/voice/status?duty={line.id}"
    )
    assert forged.status_code == 403
    assert reload(the_call()).answered_at is None


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed"])
def test_unanswered_outcomes_are_recorded(client, status):
    twilio_post(client, "/twilio/voice", call_form())
    twilio_post(client, "/twilio/voice/status", call_form(CallStatus=status))
    assert the_call().status == status


def test_the_voicemail_is_attached_once(client):
    call(client, digits="1")
    recording = {
        **call_form(),
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": "17",
        "RecordingStatus": "completed",
    }
    assert twilio_post(client, "/twilio/recording", recording).status_code == 200
    assert twilio_post(client, "/twilio/recording", recording).status_code == 200
    recorded = the_call()
    assert (recorded.recording_sid, recorded.recording_seconds) == ("RE" + "1" * 32, 17)
    assert recorded.recording_url == recording["RecordingUrl"]
    ticket = db.session.scalar(select(Ticket))
    assert event_kinds(ticket) == ["created", "missed_call", "voicemail"]
    goodbye = twiml(twilio_post(client, "/twilio/voice/voicemail", call_form(RecordingUrl=recording["RecordingUrl"])))
    assert goodbye.find("Hangup") is not None


def test_a_recording_needs_its_fields(client):
    assert twilio_post(client, "/twilio/recording", call_form()).status_code == 400


# --- repeat callers ---------------------------------------------------------------------------------


def test_a_call_from_a_phone_with_an_open_ticket_links_to_it_as_a_repeat_call(client, operator, now):
    ticket = log_call(operator, now, phone="13812341234")
    twilio_post(client, "/twilio/voice", call_form())
    twilio_post(client, "/twilio/voice", call_form())
    assert the_call().ticket_id == ticket.id
    assert event_kinds(ticket) == ["created", "repeat_call"]


def test_a_missed_repeat_call_puts_the_call_back_on_the_open_ticket(client, now):
    # A routine text (P3, promised a call within 2 hours): the urgent line's missed call moves it up to 30 minutes.
    body = "请问临时救助怎么申请"
    twilio_post(client, "/twilio/sms", {"MessageSid": "SM" + "5" * 32, "From": CALLER, "To": "+1", "Body": body})
    ticket = db.session.scalar(select(Ticket))
    call(client, digits="1")
    assert count(Ticket) == 1
    assert event_kinds(reload(ticket)) == ["created", "repeat_call", "missed_call"]
    assert ticket.first_contact_due_at == the_call().missed_at + timedelta(minutes=30)
