"""Text messages to the hotline's number: signed, idempotent, onto a ticket, answered in Chinese."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline.extensions import db
from hotline.intake import intake
from models.contact import Contact
from models.interaction import Interaction
from models.ticket import Ticket, TicketEvent
from tests.helpers import count, event_kinds, log_call, reload, timeline, timeline_kinds
from tests.twilio_helpers import BASE, CALLER, signature, sms_form, twilio_post

#: A routine enquiry: triaged P3, so it raises no alert.
ROUTINE = "请问临时救助怎么申请"


def _only_ticket() -> Ticket:
    tickets = db.session.scalars(select(Ticket)).all()
    assert len(tickets) == 1
    return tickets[0]


def _nothing_written():
    return count(Interaction) == 0 and count(Ticket) == 0 and count(Contact) == 0 and count(TicketEvent) == 0


# --- signature ------------------------------------------------------------------------------


def test_unsigned_request_is_refused_and_writes_nothing(client):
    r = client.post("/twilio/sms", data=sms_form())
    assert r.status_code == 403
    assert _nothing_written()


@pytest.mark.parametrize(
    "how",
    [
        {"token": "another-token"},
        {"signed_url": "https://evil.example/twilio/sms"},
        {"signed_url": BASE + "/twilio/voice"},
    ],
)
def test_wrong_signature_is_refused_and_writes_nothing(client, how):
    r = twilio_post(client, "/twilio/sms", sms_form(), **how)
    assert r.status_code == 403
    assert _nothing_written()


@pytest.mark.parametrize("signed_url", [BASE + "/twilio/sms", "http://hotline.test:80/twilio/sms"])
def test_the_url_as_called_or_with_its_port_is_accepted(client, signed_url):
    """Twilio signs the URL with or without its port: the validator that tries the URL as called first
    accepts both spellings, as the library does."""
    r = twilio_post(client, "/twilio/sms", sms_form(), signed_url=signed_url)
    assert r.status_code == 200
    assert count(Interaction) == 1


def test_a_form_changed_after_signing_is_refused(client):
    form = sms_form()
    sig = signature(BASE + "/twilio/sms", form)
    r = client.post("/twilio/sms", data={**form, "Body": "改过的内容"}, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 403
    assert _nothing_written()


def test_twilio_requests_get_no_session_cookie(client):
    r = twilio_post(client, "/twilio/sms", sms_form())
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers
    assert "Cookie" not in r.headers.get("Vary", "")


def test_only_the_twilio_webhooks_and_the_token_api_are_csrf_exempt(app):
    """Twilio signs its requests; the partner API reads no cookie and takes a bearer token, which a page of
    another site cannot make a browser send. Every other POST needs its CSRF token."""
    csrf = app.extensions["csrf"]
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert any(rule.rule.startswith("/twilio/") for rule in posts)
    assert any(rule.rule.startswith("/api/v1/") for rule in posts)
    for rule in posts:
        view = app.view_functions[rule.endpoint]
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        exempt = blueprint in csrf._exempt_blueprints or f"{view.__module__}.{view.__name__}" in csrf._exempt_views
        assert exempt == rule.rule.startswith(("/twilio/", "/api/v1/")), rule.rule


def test_a_browser_post_without_csrf_token_is_still_refused(client, logged_in, operator):
    logged_in(operator)
    r = client.post("/tickets/new", data={"phone": CALLER, "summary": "x"})
    assert r.status_code == 400


# --- a new message ----------------------------------------------------------------------------


def test_a_first_message_opens_an_unclaimed_sms_ticket_and_answers_with_its_number(client):
    r = twilio_post(client, "/twilio/sms", sms_form(body=ROUTINE))
    assert r.status_code == 200
    assert r.mimetype == "application/xml"
    ticket = _only_ticket()
    assert (ticket.channel, ticket.status, ticket.first_contact_owner_id) == ("sms", "new", None)
    assert ticket.contact.phone == CALLER
    assert ticket.description == ROUTINE
    answer = r.get_data(as_text=True)
    # A routine enquiry (P3, triage's tests say which texts are): the promise is the default callback time,
    # and it is the ticket's first-contact deadline. Urgent texts: tests/test_triage_intake.py.
    assert (ticket.priority, ticket.triage_priority) == ("P3", "P3")
    assert f"<Message>您好，救助热线已收到您的信息，求助编号{ticket.number}。工作人员将在2小时内与您联系" in answer
    assert ticket.first_contact_due_at == ticket.created_at + timedelta(hours=2)
    assert ticket.next_deadline_at is not None and ticket.next_deadline_at <= ticket.first_contact_due_at
    message = db.session.scalar(select(Interaction))
    assert (message.channel, message.direction, message.status) == ("sms", "inbound", "received")
    assert (message.ticket_id, message.contact_id) == (ticket.id, ticket.contact_id)
    assert message.provider_sid == "SM" + "1" * 32
    assert event_kinds(ticket) == ["created"]


def test_a_replayed_message_gets_the_same_answer_and_writes_nothing(client):
    first = twilio_post(client, "/twilio/sms", sms_form())
    before = (count(Interaction), count(Ticket), count(TicketEvent), count(Contact))
    again = twilio_post(client, "/twilio/sms", sms_form())
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert (count(Interaction), count(Ticket), count(TicketEvent), count(Contact)) == before


def test_a_replayed_follow_up_gets_the_same_answer(client):
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32))
    first = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="还有，孩子也病了"))
    events = count(TicketEvent)
    again = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="还有，孩子也病了"))
    assert again.get_data() == first.get_data()
    assert count(TicketEvent) == events


def test_the_sid_is_unique_in_the_database_not_only_looked_up(app, now):
    db.session.add(Interaction(channel="sms", provider_sid="SMdup", started_at=now))
    db.session.commit()
    db.session.add(Interaction(channel="sms", provider_sid="SMdup", started_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- a caller with an open ticket -------------------------------------------------------------


def test_a_message_from_a_caller_with_an_open_ticket_lands_on_its_timeline(client):
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, body=ROUTINE))
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, sender="138 1234 1234", body="孩子也发烧了"))
    ticket = _only_ticket()
    assert f"已记入求助编号{ticket.number}" in r.get_data(as_text=True)
    assert timeline_kinds(ticket) == ["created", "sms_in"]
    assert timeline(ticket)[-1].payload == {"text": "孩子也发烧了", "media": 0}
    assert count(Interaction, Interaction.ticket_id == ticket.id) == 2
    # Stored once: the Interaction is the text's record, no event repeats it.
    assert event_kinds(ticket) == ["created"]


def test_the_ticket_page_shows_each_follow_up_once_and_earlier_sms_in_events_as_before(client, logged_in, operator):
    """A follow-up is stored once, as its Interaction; the timeline shows it as a text received, like the
    ``sms_in`` events that earlier follow-ups wrote (still shown, not twice). A stop word is no text line."""
    from hotline.tickets.service import add_event

    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, body=ROUTINE))
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="孩子也发烧了"))
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "3" * 32, body="退订"))
    ticket = _only_ticket()
    add_event(ticket, None, "sms_in", ticket.created_at, text="升级前的短信", media=0)  # as written before 0023
    db.session.commit()
    assert event_kinds(ticket) == ["created", "sms_opt_out", "sms_in"]
    html = logged_in(operator).get(f"/tickets/{ticket.number}").get_data(as_text=True)
    lines = [line.split("</li>")[0] for line in html.split('<li class="ev ev-')[1:]]  # the timeline's lines
    texts = [line for line in lines if line.startswith("sms_in")]
    assert len(texts) == 2
    assert "孩子也发烧了" in texts[0] and "升级前的短信" in texts[1]  # newest first
    assert sum(line.startswith("sms_opt_out") for line in lines) == 1  # the stop word: its own line only


def test_a_follow_up_is_stored_as_the_orm_stores_it(client, monkeypatch):
    """A message on an open ticket is written as plain SQL; it must read back like any other row."""
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32))
    at = datetime(2026, 1, 5, 7, 30, 15, 123456, tzinfo=UTC)
    monkeypatch.setattr("hotline.intake.views.utcnow", lambda: at)
    urls = ["https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM2/Media/ME0"]
    form = sms_form(sid="SM" + "2" * 32, body="照片<已拍>", NumMedia="1", MediaUrl0=urls[0])
    r = twilio_post(client, "/twilio/sms", form)
    ticket = _only_ticket()
    message = db.session.scalar(select(Interaction).where(Interaction.provider_sid == "SM" + "2" * 32))
    [entry] = [entry for entry in timeline(ticket) if entry.kind == "sms_in"]
    assert message.started_at == at and message.started_at.tzinfo is not None
    assert (message.channel, message.direction, message.status) == ("sms", "inbound", "received")
    assert message.ticket_id == ticket.id and message.contact_id == ticket.contact_id
    assert message.number_invalid is False and message.media_urls == urls and message.follow_up is True
    assert message.reply in r.get_data(as_text=True)
    assert (entry.kind, entry.at, entry.payload) == ("sms_in", at, {"text": "照片<已拍>", "media": 1})
    first = db.session.scalar(select(Interaction).where(Interaction.provider_sid == "SM" + "1" * 32))
    assert first.follow_up is None  # the text that opened the ticket is its "created" line


def test_an_urgent_follow_up_and_the_owners_notice_are_stored_as_the_orm_stores_them(
    client, monkeypatch, operator, now
):
    """An urgent reply on an owned ticket: the new suggestion (UPDATE) and the owner's notification (INSERT),
    written as plain SQL in the message's transaction, read back like rows the ORM wrote."""
    from models.notification import Notification

    ticket = log_call(operator, now, priority="P3", category="policy_enquiry", summary="咨询临时救助")
    version = ticket.version
    at = datetime(2026, 1, 5, 7, 30, 15, 123456, tzinfo=UTC)
    monkeypatch.setattr("hotline.intake.views.utcnow", lambda: at)
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="我家孩子走丢了，在县城汽车站附近"))
    assert r.status_code == 200 and "110" in r.get_data(as_text=True)
    ticket = reload(ticket)
    assert (ticket.priority, ticket.triage_priority, ticket.triage_verdict) == ("P3", "P0", None)
    assert isinstance(ticket.triage_reasons, list) and ticket.triage_reasons
    assert ticket.updated_at == at and ticket.version == version + 1
    notice = db.session.scalar(select(Notification))
    assert (notice.user_id, notice.ticket_id, notice.kind, notice.payload) == (
        operator.id,
        ticket.id,
        "caller_replied",
        {},
    )
    assert notice.created_at == at and notice.created_at.tzinfo is not None and notice.read_at is None
    assert timeline_kinds(ticket)[-3:] == ["sms_in", "triage_raised", "urgent_alert"]


def test_a_message_joins_the_ticket_an_operator_logged_for_that_caller(client, operator, now):
    ticket = log_call(operator, now, phone="13812341234")
    twilio_post(client, "/twilio/sms", sms_form(body="我是刚才打电话的王秀英"))
    assert count(Ticket) == 1
    assert timeline_kinds(ticket)[-1] == "sms_in"


def test_a_message_after_the_ticket_closed_opens_a_new_one(client):
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32))
    first = _only_ticket()
    first.status = "closed"
    db.session.commit()
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32))
    assert count(Ticket) == 2
    assert count(Contact) == 1


# --- opting out, media, odd input ---------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "stop", " 退订 ", "TD"])
def test_stop_opts_the_number_out_of_outbound_sms_and_opens_no_ticket(client, word):
    r = twilio_post(client, "/twilio/sms", sms_form(body=word))
    assert r.status_code == 200
    assert "您已退订" in r.get_data(as_text=True)
    contact = db.session.scalar(select(Contact))
    assert contact.phone == CALLER and contact.sms_opt_out is True
    assert count(Ticket) == 0
    assert db.session.scalar(select(Interaction.body)) == word


def test_stop_on_an_open_ticket_is_on_its_timeline_and_start_opts_back_in(client):
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, body=ROUTINE))
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="退订"))
    ticket = _only_ticket()
    assert reload(ticket.contact).sms_opt_out is True
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "3" * 32, body="START"))
    assert "恢复" in r.get_data(as_text=True)
    assert reload(ticket.contact).sms_opt_out is False
    assert timeline_kinds(ticket) == ["created", "sms_opt_out", "sms_opt_in"]


def test_media_urls_are_kept(client):
    urls = [f"https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME{i}" for i in range(2)]
    form = sms_form(body="", NumMedia="2", MediaUrl0=urls[0], MediaUrl1=urls[1], MediaContentType0="image/jpeg")
    assert twilio_post(client, "/twilio/sms", form).status_code == 200
    message = db.session.scalar(select(Interaction))
    assert message.media_urls == urls
    assert _only_ticket().summary == "—"


@pytest.mark.parametrize("sender", ["not-a-number", "+1", "12345", "x" * 200])
def test_a_malformed_sender_is_stored_as_given_and_flagged(client, sender):
    r = twilio_post(client, "/twilio/sms", sms_form(sender=sender))
    assert r.status_code == 200
    message = db.session.scalar(select(Interaction))
    assert message.number_invalid is True
    assert message.from_number == sender[:64]
    ticket = _only_ticket()
    assert ticket.contact.phone is None and ticket.contact.phone_raw == sender[:64]


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_missing_fields_give_400_and_write_nothing(client, missing):
    form = sms_form()
    del form[missing]
    r = twilio_post(client, "/twilio/sms", form)
    assert r.status_code == 400
    assert _nothing_written()


def test_a_malformed_sid_gives_400(client):
    assert twilio_post(client, "/twilio/sms", sms_form(sid="SM'; drop table--")).status_code == 400
    assert _nothing_written()


def test_an_oversized_body_gives_413_and_writes_nothing(client, app):
    body = "字" * (app.config["WEBHOOK_MAX_BYTES"] // 2)
    r = twilio_post(client, "/twilio/sms", sms_form(body=body))
    assert r.status_code == 413
    assert _nothing_written()


def test_a_nul_character_is_refused_not_a_500(client):
    assert twilio_post(client, "/twilio/sms", sms_form(body="a\x00b")).status_code == 400
    assert _nothing_written()


def test_get_is_not_allowed(client):
    assert client.get("/twilio/sms").status_code == 405


# --- delivery status of what we sent -------------------------------------------------------------


def test_status_for_an_unknown_message_is_accepted_and_changes_nothing(client):
    r = twilio_post(client, "/twilio/sms/status", {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered"})
    assert r.status_code == 200
    assert count(Interaction) == 0


def test_status_callback_needs_a_signature_and_its_fields(client):
    form = {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered"}
    assert client.post("/twilio/sms/status", data=form).status_code == 403
    assert twilio_post(client, "/twilio/sms/status", {"MessageSid": "SM" + "7" * 32}).status_code == 400


def test_the_webhook_never_loads_a_user(client, app, monkeypatch, logged_in, operator):
    logged_in(operator)  # even a request that carries a login cookie

    def refuse(user_id):
        raise AssertionError("the login session was touched")

    monkeypatch.setattr(app.login_manager, "_user_callback", refuse)
    assert twilio_post(client, "/twilio/sms", sms_form()).status_code == 200


def test_each_write_transaction_holds_the_write_turn(app, now):
    """SQLite's write turn is held around the writes only; the new ticket's clocks are worked out before."""
    from contextlib import contextmanager

    from hotline.intake import intake, service
    from hotline.intake.service import InboundMessage

    held = []

    @contextmanager
    def turn():
        held.append(count(Ticket))  # what was stored when the turn began
        yield

    policy = intake().policy
    first = InboundMessage(sid="SM" + "1" * 32, from_number=CALLER, to_number=None, body="请帮帮我们")
    service.receive_sms(first, now=now, policy=policy, turn=turn)
    # Looked for an open ticket (none), then opened one: two turns, the ticket stored in the second.
    assert held == [0, 0] and count(Ticket) == 1
    follow_up = InboundMessage(sid="SM" + "2" * 32, from_number=CALLER, to_number=None, body="孩子也病了")
    service.receive_sms(follow_up, now=now + timedelta(seconds=1), policy=policy, turn=turn)
    assert held == [0, 0, 1] and timeline_kinds(_only_ticket()) == ["created", "sms_in"]


@pytest.mark.parametrize(
    "body",
    ["我父亲突发脑溢血住院\n家里拿不出押金", "我家孩子走丢了，在县城汽车站附近", "请问低保怎么申请"],
    ids=["P1", "P0", "P3"],
)
def test_a_first_message_stores_the_ticket_the_ticket_service_builds(client, monkeypatch, body):
    """The webhook writes a first message's ticket as plain SQL: every column as the service built it,
    the triage suggestion (a JSON list of the matched words) included."""
    from hotline.tickets.service import build_unclaimed_ticket
    from hotline.triage import triage_text

    at = datetime(2026, 1, 5, 7, 30, 15, 123456, tzinfo=UTC)  # a Monday, 15:30 in Shanghai
    monkeypatch.setattr("hotline.intake.views.utcnow", lambda: at)
    twilio_post(client, "/twilio/sms", sms_form(body=body))
    stored = _only_ticket()
    policy = intake().policy
    triage = triage_text(body)
    expected = build_unclaimed_ticket(
        now=at,
        channel="sms",
        summary=body.splitlines()[0],
        body=body,
        category=triage.category,
        priority=triage.priority,
        contact_by=at + timedelta(minutes=policy.minutes_to_callback(triage.priority)),
        triage_reasons=triage.reasons,
        triage_kind=triage.kind,
    )
    assert (stored.priority, stored.triage_priority, stored.triage_reasons) == (
        triage.priority,
        triage.priority,
        list(triage.reasons),
    )
    skip = {"id", "number", "contact_id", "version"}
    columns = [c for c in Ticket.__table__.columns if c.key not in skip]

    def built(column):  # an unsaved ticket leaves the column default (confidential=False, ...) to the INSERT
        value = getattr(expected, column.key)
        return column.default.arg if value is None and column.default is not None else value

    assert {c.key: getattr(stored, c.key) for c in columns} == {c.key: built(c) for c in columns}
    assert stored.version == 1 and stored.number.startswith("20260105")
    assert stored.first_contact_due_at is not None and stored.sensitive is False
    contact = db.session.get(Contact, stored.contact_id)
    assert contact.phone == CALLER and contact.sms_opt_out is False and contact.created_at == at
    created = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "created"))
    assert created.payload == {"channel": "sms", "priority": triage.priority, "category": triage.category}
    assert created.at == at


def test_the_fast_path_keeps_its_connection_and_replaces_one_that_failed(app, now):
    """The follow-up path keeps one driver connection per thread from text to text. One that failed is not
    used again: on SQLite the text it failed on raises (the webhook spools it); on PostgreSQL a connection
    the server dropped (a restart) is found broken and the text is written on a new one at once."""
    from sqlalchemy import text as sql

    from hotline.intake import intake, service
    from hotline.intake.service import InboundMessage

    policy = intake().policy

    def text(n, body):
        message = InboundMessage(sid=f"SM{n:032d}", from_number=CALLER, to_number=None, body=body)
        return service.receive_sms(message, now=now, policy=policy)

    text(1, ROUTINE)
    text(2, "孩子也发烧了")
    kept = service._KEPT.connection
    text(3, "还是没人来")
    assert kept is not None and service._KEPT.connection is kept
    if db.engine.dialect.name == "sqlite":
        kept.dbapi_connection.close()  # the driver broke, whatever the cause
        with pytest.raises(sqlite3.ProgrammingError):
            text(4, "又一条")
        assert service._KEPT.connection is None
    else:
        pid = kept.dbapi_connection.info.backend_pid
        db.session.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": pid})  # as a server restart does
        db.session.commit()
        assert "已记入求助编号" in text(4, "又一条")
    text(5, "再一条")
    assert service._KEPT.connection is not None and service._KEPT.connection is not kept
    texts = [e.payload["text"] for e in timeline(_only_ticket()) if e.kind == "sms_in"]
    stored = ["孩子也发烧了", "还是没人来", "再一条"] if db.engine.dialect.name == "sqlite" else None
    assert texts == (stored or ["孩子也发烧了", "还是没人来", "又一条", "再一条"])


def _checkouts(engine) -> list:
    """The engine's pool checkouts from now on (a list that grows)."""
    from sqlalchemy import event

    taken = []
    event.listen(engine, "checkout", lambda *args: taken.append(1))
    return taken


def test_a_first_message_is_written_in_the_transaction_that_looked_its_sender_up(client):
    """On PostgreSQL a first message's ticket is written by the ticket service on the fast path's kept
    connection, in the transaction whose look-up found no open ticket (the number's lock held throughout):
    no connection from the pool, no second lock and look-up. SQLite writes it on the session's connection."""
    from hotline.intake import service

    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, sender="+8613812340001", body=ROUTINE))
    taken = _checkouts(db.engine)
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, sender="+8613812340002", body=ROUTINE))
    during = len(taken)
    ticket = db.session.scalar(select(Ticket).join(Contact).where(Contact.phone == "+8613812340002"))
    assert ticket is not None and f"求助编号{ticket.number}" in r.get_data(as_text=True)
    assert event_kinds(ticket) == ["created"]
    message = db.session.scalar(select(Interaction).where(Interaction.provider_sid == "SM" + "2" * 32))
    assert (message.ticket_id, message.contact_id) == (ticket.id, ticket.contact_id)
    postgresql = db.engine.dialect.name == "postgresql"
    assert during == (0 if postgresql else 1)
    assert service._KEPT.connection is not None
    if postgresql:  # the kept connection's transaction ended with the commit: nothing is held open
        assert service._KEPT.connection.dbapi_connection.info.transaction_status == 0  # IDLE


def test_a_first_message_that_fails_leaves_nothing_and_no_lock(client, monkeypatch):
    """A first message whose write fails on the database is spooled (answered all the same); nothing of it
    is stored and, on PostgreSQL, its number's lock is gone with the kept connection, which is dropped: the
    next text opens its ticket on a new one."""
    from sqlalchemy import text as sql
    from sqlalchemy.exc import OperationalError

    from hotline.intake import service

    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, sender="+8613812340001", body=ROUTINE))
    kept = service._KEPT.connection

    def fails(*args, **kwargs):
        raise OperationalError("INSERT INTO ticket", {}, Exception("the server went away"))

    monkeypatch.setattr(service, "store_unclaimed_ticket", fails)
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, sender="+8613812340002", body=ROUTINE))
    assert r.status_code == 200 and "<Message>" in r.get_data(as_text=True)
    assert db.session.scalar(select(Contact).where(Contact.phone == "+8613812340002")) is None
    assert count(Ticket) == 1 and count(Interaction) == 1
    postgresql = db.engine.dialect.name == "postgresql"
    assert (service._KEPT.connection is None) == postgresql
    if postgresql:
        locked = db.session.scalar(sql("SELECT pg_try_advisory_xact_lock(hashtext('+8613812340002'))"))
        db.session.rollback()
        assert locked is True
    monkeypatch.undo()
    intake().spool.mark_up()
    r = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "3" * 32, sender="+8613812340003", body=ROUTINE))
    assert "求助编号" in r.get_data(as_text=True) and count(Ticket) == 2
    assert service._KEPT.connection is not None and (service._KEPT.connection is not kept) == postgresql
