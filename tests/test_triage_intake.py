"""Triage in the product: texts take their triaged priority, urgent ones alert every desk and the duty
phones once, operators confirm or correct the suggestion, and a caller's reply reaches the ticket's owner."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from config.settings import ROOT
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import sla
from hotline.extensions import db
from hotline.intake import intake, service
from hotline.intake.service import InboundMessage
from hotline.reports import service as reports
from hotline.reports.service import Period, Scope
from hotline.tickets import queries
from hotline.tickets import service as tickets
from hotline.triage import triage_text
from models.duty import DutyLine
from models.interaction import Interaction
from models.notification import Notification
from models.outbox import OutboundMessage
from models.ticket import Ticket
from tests.conftest import login
from tests.helpers import count, event_kinds, events, log_call, reload, timeline_kinds
from tests.helpers import unclaimed as unclaimed_ticket
from tests.twilio_helpers import sms_form, twilio_post

CALLER = "+8613812341234"
MISSING_CHILD = "我家孩子走丢了，在县城汽车站附近"  # P0
ILLNESS = "父亲突发脑溢血住院，拿不出押金"  # P1
ROUTINE = "请问低保怎么申请"  # P3


@pytest.fixture
def policy(app):
    return intake().policy


@pytest.fixture
def duty(app, operator, now):
    """Two phones on duty (one of them listed twice), one off duty, one softphone: two alerts leave."""
    lines = [
        DutyLine(user_id=operator.id, label="夜班座机", phone="+8613900000001", on_duty=True, updated_at=now),
        DutyLine(label="张晓红手机", phone="+8613900000002", on_duty=True, updated_at=now),
        DutyLine(label="张晓红手机（备）", phone="+8613900000002", on_duty=True, updated_at=now),
        DutyLine(label="休班", phone="+8613900000003", on_duty=False, updated_at=now),
        DutyLine(label="浏览器", client_identity="desk1", on_duty=True, updated_at=now),
    ]
    db.session.add_all(lines)
    db.session.commit()
    return lines


def sms(policy, now, body, *, sid="1", sender=CALLER):
    message = InboundMessage(sid="SM" + sid * 32, from_number=sender, to_number=None, body=body)
    return service.receive_sms(message, now=now, policy=policy)


def the_ticket() -> Ticket:
    (ticket,) = db.session.scalars(select(Ticket)).all()
    return reload(ticket)


def outbox() -> list[OutboundMessage]:
    return list(db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.to_number)))


# --- a first message -----------------------------------------------------------------------------------


def test_an_urgent_first_message_takes_its_triaged_priority_and_category(app, policy, now, duty):
    reply = sms(policy, now, MISSING_CHILD)
    ticket = the_ticket()
    triage = triage_text(MISSING_CHILD)
    assert triage.priority == "P0" and triage.reasons
    assert (ticket.priority, ticket.category) == ("P0", triage.category)
    assert (ticket.triage_priority, ticket.triage_category) == ("P0", triage.category)
    assert ticket.triage_reasons == list(triage.reasons) and ticket.triage_verdict is None
    # The promise follows the priority: 15 minutes for P0 (intake.toml), the clock held to it.
    assert ticket.first_contact_due_at == now + timedelta(minutes=15)
    assert ticket.next_deadline_at <= now + timedelta(minutes=15)
    # Answered at once with where to call.
    assert reply == policy.sms_danger.format(number=ticket.number, within="15分钟")
    assert "110" in reply and "120" in reply and "119" in reply
    assert event_kinds(ticket) == ["created", "urgent_alert"]
    assert events(ticket, "created")[0].payload == {"channel": "sms", "priority": "P0", "category": triage.category}


def test_an_urgent_text_alerts_each_on_duty_phone_once_through_the_outbox(app, policy, now, duty):
    sms(policy, now, MISSING_CHILD)
    ticket = the_ticket()
    sent = outbox()
    assert [m.to_number for m in sent] == ["+8613900000001", "+8613900000002"]  # on duty, phones, each once
    category = app.extensions["hotline_policy"]["catalogue"].get(ticket.category).zh
    assert {m.body for m in sent} == {
        f"【救助热线紧急求助】P0·{category}，求助编号{ticket.number}，尚无人认领，请立即登录工单系统处理。"
    }
    assert MISSING_CHILD not in sent[0].body  # the caller's words stay in the system
    assert all(m.status == "queued" and m.ticket_id == ticket.id for m in sent)
    # Twilio replays the webhook: same answer, no second alert.
    sms(policy, now + timedelta(seconds=5), MISSING_CHILD)
    assert len(outbox()) == 2 and event_kinds(ticket) == ["created", "urgent_alert"]


def test_a_failure_to_queue_the_duty_texts_still_answers_the_caller(app, policy, now, duty, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(service, "enqueue_sms", broken)
    reply = sms(policy, now, MISSING_CHILD)
    ticket = the_ticket()
    assert ticket.number in reply and "110" in reply
    assert queries.urgent_alerts() == [ticket]  # the desks still see it
    assert outbox() == [] and "could not be queued" in caplog.text


def test_a_p1_text_alerts_but_gets_the_ordinary_answer(app, policy, now, duty):
    reply = sms(policy, now, ILLNESS)
    ticket = the_ticket()
    assert (ticket.priority, ticket.triage_priority) == ("P1", "P1")
    assert reply == policy.sms_new_ticket.format(number=ticket.number, within="30分钟")
    assert ticket.first_contact_due_at == now + timedelta(minutes=30)
    assert len(outbox()) == 2


def test_a_routine_text_stays_p3_and_alerts_nobody(app, policy, now, duty):
    reply = sms(policy, now, ROUTINE)
    ticket = the_ticket()
    triage = triage_text(ROUTINE)
    assert (ticket.priority, ticket.category, ticket.triage_priority) == ("P3", triage.category, "P3")
    assert ticket.triage_reasons == list(triage.reasons)
    assert reply == policy.sms_new_ticket.format(number=ticket.number, within="2小时")
    assert outbox() == [] and event_kinds(ticket) == ["created"]
    assert queries.urgent_alerts() == []


def test_an_empty_text_opens_a_routine_ticket(app, policy, now):
    sms(policy, now, "")
    ticket = the_ticket()
    assert (ticket.priority, ticket.category, ticket.summary, ticket.triage_reasons) == ("P3", "other", "—", [])


def test_an_urgent_text_from_a_number_that_does_not_parse_is_triaged_too(app, policy, now, duty):
    reply = sms(policy, now, MISSING_CHILD, sender="12")
    ticket = the_ticket()
    assert (ticket.priority, ticket.triage_priority, ticket.contact.phone_raw) == ("P0", "P0", "12")
    assert ticket.triage_reasons == list(triage_text(MISSING_CHILD).reasons)
    assert ticket.first_contact_due_at == now + timedelta(minutes=15)
    assert "110" in reply and ticket.number in reply
    assert event_kinds(ticket) == ["created", "urgent_alert"] and len(outbox()) == 2
    sms(policy, now, MISSING_CHILD, sender="12")  # a replay
    assert count(Ticket) == 1 and len(outbox()) == 2


# --- a follow-up -----------------------------------------------------------------------------------------


def test_an_urgent_follow_up_records_the_suggestion_without_changing_the_priority(app, policy, now, duty, operator):
    sms(policy, now, ROUTINE)
    ticket = the_ticket()
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    version = ticket.version
    later = now + timedelta(hours=1)
    reply = sms(policy, later, MISSING_CHILD, sid="2")
    ticket = the_ticket()
    triage = triage_text(MISSING_CHILD)
    assert ticket.priority == "P3"  # the operator's until they review it
    assert (ticket.triage_priority, ticket.triage_category) == ("P0", triage.category)
    assert ticket.triage_reasons == list(triage.reasons) and ticket.triage_verdict is None
    assert ticket.triage_kind == triage.kind == "missing_child"
    assert ticket.version == version + 1 and ticket.updated_at == later
    assert timeline_kinds(ticket)[-3:] == ["sms_in", "triage_raised", "urgent_alert"]
    assert events(ticket, "triage_raised")[0].payload == {
        "priority": "P0",
        "category": triage.category,
        "reasons": list(triage.reasons),
    }
    assert reply == policy.sms_danger.format(number=ticket.number, within="15分钟")
    assert len(outbox()) == 2
    assert queries.urgent_alerts() == [ticket]  # owned: on every desk until the owner reviews it
    # Once per ticket: a second urgent text tells the owner, but the duty phones are not texted again.
    sms(policy, later + timedelta(minutes=1), "孩子还是没找到，走丢两个小时了", sid="3")
    assert len(outbox()) == 2 and event_kinds(reload(ticket)).count("urgent_alert") == 1
    tickets.review_triage(ticket, actor=operator, now=later + timedelta(minutes=2), emergency_service="110")
    db.session.commit()
    assert queries.urgent_alerts() == []


def test_a_closed_ticket_leaves_the_urgent_alerts_though_its_suggestion_was_never_reviewed(
    app, policy, now, duty, operator
):
    sms(policy, now, ROUTINE)
    ticket = the_ticket()
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    sms(policy, now + timedelta(hours=1), MISSING_CHILD, sid="2")
    ticket = the_ticket()
    assert queries.urgent_alerts() == [ticket]
    later = now + timedelta(hours=2)
    tickets.resolve_directly(ticket, actor=operator, now=later, answer="孩子已找到，家长确认")
    tickets.record_callback(ticket, actor=operator, now=later + timedelta(minutes=5), reached=True, satisfaction=5)
    tickets.close_ticket(ticket, actor=operator, now=later + timedelta(minutes=10))
    db.session.commit()
    ticket = the_ticket()
    assert (ticket.status, ticket.triage_priority, ticket.triage_verdict) == ("closed", "P0", None)
    assert queries.urgent_alerts() == []


def test_a_p0_reply_on_a_p1_text_raises_the_suggestion_but_texts_the_duty_phones_no_second_time(
    app, policy, now, duty, operator
):
    sms(policy, now, ILLNESS)
    ticket = the_ticket()
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    assert len(outbox()) == 2
    sms(policy, now + timedelta(minutes=5), MISSING_CHILD, sid="2")
    ticket = the_ticket()
    assert (ticket.priority, ticket.triage_priority) == ("P1", "P0")
    assert event_kinds(ticket).count("triage_raised") == 1 and event_kinds(ticket).count("urgent_alert") == 1
    assert len(outbox()) == 2
    assert queries.urgent_alerts() == [ticket]


def test_a_follow_up_no_more_urgent_than_the_ticket_changes_no_suggestion(app, policy, now, duty):
    sms(policy, now, MISSING_CHILD)
    version = the_ticket().version
    sms(policy, now + timedelta(minutes=1), ILLNESS, sid="2")
    ticket = the_ticket()
    assert (ticket.priority, ticket.triage_priority, ticket.version) == ("P0", "P0", version)
    assert timeline_kinds(ticket) == ["created", "urgent_alert", "sms_in"] and len(outbox()) == 2


def test_a_routine_follow_up_on_a_logged_call_only_lands_on_the_timeline(app, policy, now, operator):
    ticket = log_call(operator, now, priority="P3", category="policy_enquiry", summary="咨询临时救助")
    suggestion = (ticket.triage_priority, ticket.triage_category, ticket.triage_verdict)
    sms(policy, now + timedelta(minutes=5), "好的谢谢", sid="2")
    ticket = reload(ticket)
    assert (ticket.triage_priority, ticket.triage_category, ticket.triage_verdict) == suggestion
    assert timeline_kinds(ticket)[-1] == "sms_in" and outbox() == []


# --- the caller replies: the owner hears of it -------------------------------------------------------------


def test_a_reply_on_an_owned_ticket_notifies_its_owner_in_the_same_transaction(app, policy, now, operator):
    ticket = log_call(operator, now)
    at = now + timedelta(minutes=3)
    sms(policy, at, "我把住院单拍下来了", sid="2")
    (notice,) = db.session.scalars(select(Notification)).all()
    assert (notice.user_id, notice.ticket_id, notice.kind, notice.payload) == (
        operator.id,
        ticket.id,
        "caller_replied",
        {},
    )
    assert notice.created_at == at and notice.read_at is None
    # A replay of the same message notifies nobody again.
    sms(policy, at, "我把住院单拍下来了", sid="2")
    assert count(Notification) == 1


def test_a_reply_on_an_unclaimed_ticket_notifies_nobody(app, policy, now):
    sms(policy, now, ROUTINE)
    sms(policy, now + timedelta(minutes=1), "还有，孩子也病了", sid="2")
    assert count(Notification) == 0
    assert timeline_kinds(the_ticket()) == ["created", "sms_in"]


def test_the_desk_marks_a_replied_ticket_until_its_owner_opens_it(
    app, client, logged_in, policy, now, operator, make_user
):
    ticket = log_call(operator, now)
    other = make_user("operator", username="op_li", display_name="李娜")
    sms(policy, now + timedelta(minutes=3), "我把住院单拍下来了", sid="2")
    logged_in(operator)
    desk = client.get("/desk").get_data(as_text=True)
    assert "新回复" in desk
    assert "求助人通过短信回复了" in client.get("/notifications").get_data(as_text=True)
    assert "新回复" in client.get("/desk").get_data(as_text=True)  # the list alone does not read a reply
    assert client.get(f"/tickets/{ticket.number}").status_code == 200
    assert "新回复" not in client.get("/desk").get_data(as_text=True)
    assert db.session.scalar(select(Notification.read_at)) is not None
    # Another operator opening the ticket does not read the owner's notices.
    sms(policy, now + timedelta(minutes=4), "医院说明天要交钱", sid="3")
    with app.test_client() as colleague:
        assert login(colleague, other.username).status_code == 302
        assert colleague.get(f"/tickets/{ticket.number}").status_code == 200
    assert count(Notification, Notification.read_at.is_(None)) == 1


# --- order and alerts on the desk -----------------------------------------------------------------------


def test_unclaimed_work_is_ordered_by_triaged_urgency_then_age(app, policy, now, operator):
    old_routine = [
        sms(policy, now - timedelta(days=30 - i), ROUTINE, sid=str(i), sender=f"+86139000010{i}{i}") for i in range(5)
    ]
    assert len(old_routine) == 5
    sms(policy, now, MISSING_CHILD, sid="7", sender="+8613900002222")
    sms(policy, now - timedelta(hours=1), ILLNESS, sid="8", sender="+8613900003333")
    order = [t.priority for t in queries.unclaimed()]
    assert order == ["P0", "P1", "P3", "P3", "P3", "P3", "P3"]
    p3 = [t.created_at for t in queries.unclaimed() if t.priority == "P3"]
    assert p3 == sorted(p3)  # oldest first within a priority
    page = db.session.scalars(queries.queue_select(operator, queries.QueueFilters(scope="new"), now=now)).unique()
    assert [t.number for t in page] == [t.number for t in queries.unclaimed()]


def test_the_alert_lists_urgent_unclaimed_texts_until_taken(app, policy, now, operator):
    sms(policy, now, ROUTINE, sid="1", sender="+8613900001111")
    sms(policy, now, MISSING_CHILD, sid="2", sender="+8613900002222")
    sms(policy, now + timedelta(minutes=1), ILLNESS, sid="3", sender="+8613900003333")
    alerts = queries.urgent_alerts()
    assert [t.triage_priority for t in alerts] == ["P0", "P1"]
    tickets.take_ticket(alerts[0], actor=operator, now=now + timedelta(minutes=2))
    db.session.commit()
    assert [t.triage_priority for t in queries.urgent_alerts()] == ["P1"]


def test_the_live_panel_carries_the_alert_with_its_reasons(client, logged_in, policy, now, operator):
    sms(policy, now, MISSING_CHILD)
    ticket = the_ticket()
    logged_in(operator)
    data = client.get("/desk/live").get_json()
    (alert,) = data["alerts"]
    reasons = "、".join(triage_text(MISSING_CHILD).reasons)
    assert alert["number"] == ticket.number and alert["priority"] == "P0" and alert["owned"] is False
    assert alert["triage"].startswith("系统研判：P0 危及生命 · ") and alert["triage"].endswith(f"— 命中：{reasons}")
    assert data["unclaimed"][0]["number"] == ticket.number
    html = client.get("/desk").get_data(as_text=True)
    assert 'id="urgent-alerts"' in html and alert["triage"] in html


# --- one-click review ---------------------------------------------------------------------------------------


@pytest.fixture
def texted(app, policy, now, operator):
    """An SMS ticket triaged P1 (an illness the family cannot pay for), taken by the operator."""
    sms(policy, now, ILLNESS)
    ticket = the_ticket()
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    return ticket


def test_confirming_keeps_priority_and_category_and_is_on_the_timeline(texted, operator, now):
    at = now + timedelta(minutes=5)
    due = texted.dispatch_due_at
    assert tickets.review_triage(texted, actor=operator, now=at, expected_version=texted.version) == "confirmed"
    db.session.commit()
    ticket = reload(texted)
    assert (ticket.triage_verdict, ticket.triage_reviewed_at, ticket.priority) == ("confirmed", at, "P1")
    assert ticket.dispatch_due_at == due  # nothing changed: the clocks run on
    (event,) = events(ticket, "triage_reviewed")
    suggested = {"priority": "P1", "category": ticket.category}
    assert event.payload == {"verdict": "confirmed", "suggested": suggested, "from": suggested, "to": suggested}
    assert event.actor_id == operator.id and event.at == at


def test_correcting_changes_priority_through_its_rules_and_restarts_the_clocks(texted, operator, now):
    at = now + timedelta(minutes=5)
    category = texted.category
    verdict = tickets.review_triage(texted, actor=operator, now=at, priority="P3", category="medical_aid")
    db.session.commit()
    ticket = reload(texted)
    assert verdict == "corrected"
    assert (ticket.priority, ticket.category, ticket.triage_verdict) == ("P3", "medical_aid", "corrected")
    assert (ticket.triage_priority, ticket.triage_category) == ("P1", category)  # the suggestion stays as it was
    assert ticket.dispatch_due_at == sla.deadline("P3", "dispatch", at)  # restarted for P3 from the correction
    assert event_kinds(ticket)[-2:] == ["priority_changed", "triage_reviewed"]
    assert events(ticket, "priority_changed")[0].payload["new"] == "P3"
    assert events(ticket, "triage_reviewed")[0].payload["to"] == {"priority": "P3", "category": "medical_aid"}


def test_a_second_review_is_refused(texted, operator, now):
    tickets.review_triage(texted, actor=operator, now=now)
    db.session.commit()
    with pytest.raises(DomainError, match="已复核"):
        tickets.review_triage(texted, actor=operator, now=now, priority="P2")


def test_a_review_is_refused_to_others_on_stale_forms_and_without_a_handover_for_p0(texted, operator, make_user, now):
    other = make_user("operator", username="op_li")
    with pytest.raises(NotAllowed):
        tickets.review_triage(texted, actor=other, now=now)
    with pytest.raises(StaleError):
        tickets.review_triage(texted, actor=operator, now=now, expected_version=texted.version - 1)
    with pytest.raises(DomainError, match="110、119或120"):
        tickets.review_triage(texted, actor=operator, now=now, priority="P0")
    with pytest.raises(DomainError, match="类别"):
        tickets.review_triage(texted, actor=operator, now=now, category="no_such_thing")
    assert reload(texted).triage_verdict is None and "triage_reviewed" not in event_kinds(texted)


def test_a_ticket_without_a_suggestion_has_nothing_to_review(app, now, operator):
    ticket = unclaimed_ticket(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    with pytest.raises(DomainError, match="没有需要复核的系统研判"):
        tickets.review_triage(ticket, actor=operator, now=now)


def test_the_ticket_page_confirms_and_corrects_with_one_click(client, logged_in, texted, operator):
    logged_in(operator)
    page = client.get(f"/tickets/{texted.number}").get_data(as_text=True)
    reasons = "、".join(triage_text(ILLNESS).reasons)
    assert "系统研判：P1 急难 · " in page and f"命中：{reasons}" in page
    assert "确认研判" in page
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    form = {"csrf_token": token, "version": texted.version, "priority": "P2", "category": "medical_aid"}
    r = client.post(f"/tickets/{texted.number}/triage", data={**form, "correct": "1"})
    assert r.status_code == 302
    ticket = reload(texted)
    assert (ticket.priority, ticket.category, ticket.triage_verdict) == ("P2", "medical_aid", "corrected")
    page = client.get(f"/tickets/{texted.number}").get_data(as_text=True)
    assert "复核：已更正" in page and "确认研判" not in page
    again = client.post(f"/tickets/{texted.number}/triage", data={**form, "version": ticket.version, "confirm": "1"})
    assert again.status_code == 400 and "已复核" in again.get_data(as_text=True)


# --- a call logged by an operator ------------------------------------------------------------------------


def test_a_logged_call_keeps_the_operators_priority_beside_the_triage(app, now, operator):
    ticket = log_call(operator, now, priority="P2", category="medical_aid", description="孩子走丢了，我们在汽车站")
    triage = triage_text("父亲突发脑溢血住院，拿不出押金\n孩子走丢了，我们在汽车站")
    assert (ticket.priority, ticket.category) == ("P2", "medical_aid")
    assert (ticket.triage_priority, ticket.triage_category) == (triage.priority, triage.category)
    assert ticket.triage_reasons == list(triage.reasons)
    assert (ticket.triage_verdict, ticket.triage_reviewed_at) == ("corrected", now)
    same = log_call(
        operator,
        now,
        phone="13900001111",
        priority=triage_text(ILLNESS).priority,
        category=triage_text(ILLNESS).category,
        summary=ILLNESS,
    )
    assert same.triage_verdict == "confirmed"
    assert queries.urgent_alerts() == []  # the operator is on the call: no alert


# --- reports -------------------------------------------------------------------------------------------------


def test_triage_right_is_confirmed_of_reviewed(app, policy, now, operator):
    log_call(
        operator, now, priority=triage_text(ILLNESS).priority, category=triage_text(ILLNESS).category, summary=ILLNESS
    )
    log_call(operator, now, phone="13900001111", priority="P3", category="policy_enquiry", summary=ILLNESS)
    sms(policy, now, ROUTINE, sid="3", sender="+8613900002222")  # not reviewed yet: not counted
    period = Period(now.date() - timedelta(days=1), now.date() + timedelta(days=1))
    rates = {rate.figure.key: rate for rate in reports.figures(period, Scope(), now + timedelta(hours=1))}
    assert (rates["triage_right"].numerator, rates["triage_right"].denominator) == (1, 2)
    listed = db.session.scalars(reports.facts_list_select("tickets", "triage_confirmed", period, Scope(), now)).all()
    assert len(listed) == 1


# --- bad input at the webhook --------------------------------------------------------------------------------


def test_an_empty_text_at_the_webhook_opens_a_routine_ticket(client):
    r = twilio_post(client, "/twilio/sms", sms_form(body=""))
    assert r.status_code == 200
    ticket = the_ticket()
    assert ticket.number in r.get_data(as_text=True)
    assert (ticket.priority, ticket.triage_priority, ticket.summary) == ("P3", "P3", "—")


def test_the_longest_text_twilio_sends_is_stored_whole_and_triaged(client):
    body = MISSING_CHILD + "字" * (1600 - len(MISSING_CHILD))  # Twilio's limit for one message: 1,600 characters
    r = twilio_post(client, "/twilio/sms", sms_form(body=body))
    assert r.status_code == 200
    ticket = the_ticket()
    assert ticket.description == body and ticket.triage_priority == "P0"


def test_a_100000_character_body_is_refused_with_413_and_stores_nothing(client):
    r = twilio_post(client, "/twilio/sms", sms_form(body="救" * 100_000))
    assert r.status_code == 413
    assert count(Ticket) == 0 and count(Interaction) == 0 and count(OutboundMessage) == 0


# --- the policy texts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("danger", "请拨打110，编号{numbr}", r"\[sms\] danger may only use \{number\}, \{within\}"),
        ("duty_alert", "求助{number}{", r"\[sms\] duty_alert may only use"),
        ("danger", "", r"\[sms\] danger is missing or empty"),
    ],
)
def test_a_mistake_in_the_sms_texts_stops_start_up_naming_the_key(tmp_path, key, text, message):
    from hotline.intake.policy import load_intake_policy

    source = (ROOT / "config" / "policy" / "intake.toml").read_text(encoding="utf-8")
    lines = [
        f"{key} = {json.dumps(text, ensure_ascii=False)}" if line.startswith(f"{key} = ") else line
        for line in source.splitlines()
    ]
    path = tmp_path / "intake.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_intake_policy(path)


def test_the_call_form_asks_for_the_triage_of_what_is_typed(client, logged_in, operator, make_user):
    logged_in(operator)
    page = client.get("/tickets/new").get_data(as_text=True)
    assert 'id="triage-hint"' in page
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = client.post("/tickets/triage-text", data={"text": MISSING_CHILD, "csrf_token": token})
    triage = triage_text(MISSING_CHILD)
    assert r.get_json()["priority"] == "P0" and r.get_json()["category"] == triage.category
    assert r.get_json()["triage"].endswith("命中：" + "、".join(triage.reasons))
    assert client.post("/tickets/triage-text", data={"text": "", "csrf_token": token}).get_json()["triage"] == ""
    assert client.post("/tickets/triage-text", data={"text": MISSING_CHILD}).status_code == 400  # no CSRF token
    assert count(Ticket) == 0


def test_only_the_desk_may_ask_for_a_triage(client, logged_in, make_user, make_department):
    staff = make_user("department", username="civil", department=make_department())
    logged_in(staff)
    token = client.get("/account/password").get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
    r = client.post("/tickets/triage-text", data={"text": MISSING_CHILD, "csrf_token": token.split('"')[0]})
    assert r.status_code in (403, 404)


def test_a_text_the_model_raised_says_so_on_the_ticket_and_the_desk(client, logged_in, policy, now, operator):
    """The rules count no word of it; the triage model raises it to P1 and the page names the model, not a match."""
    sms(policy, now, "头好晕 站不起来 我和我妈 屋里烧的蜂窝煤", sid="7", sender="+8613800000077")
    sms(policy, now, ILLNESS, sid="8", sender="+8613800000088")
    raised, matched = (
        reload(t) for t in db.session.scalars(select(Ticket).order_by(Ticket.contact_id, Ticket.id)).all()
    )
    if raised.triage_kind != "model":
        raised, matched = matched, raised
    assert (raised.priority, raised.triage_kind, raised.triage_category) == ("P1", "model", "other")
    assert matched.triage_kind not in (None, "model")
    logged_in(operator)
    page = client.get(f"/tickets/{raised.number}").get_data(as_text=True)
    assert "模型判断，依据：" in page and "命中" not in page.split("模型判断")[0].rsplit("系统研判", 1)[-1]
    assert "命中：" in client.get(f"/tickets/{matched.number}").get_data(as_text=True)
    desk = client.get("/desk").get_data(as_text=True)
    assert desk.count("模型判断，依据：") == 1
