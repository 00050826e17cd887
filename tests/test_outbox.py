"""The SMS outbox: sent through twilio.rest.Client (a fake http_client here), retried, given up, never to opt-outs."""

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import requests
import twilio.http.http_client
import twilio.rest
from sqlalchemy import select, update
from twilio.rest import Client

from hotline.extensions import db
from hotline.jobs import outbox as sender
from hotline.jobs.outbox import send_outbox, twilio_client
from hotline.notify import service
from models.contact import Contact
from models.outbox import OutboundMessage
from models.ticket import Ticket
from tests.conftest import post_form
from tests.helpers import audit_kinds, event_kinds, reload
from tests.twilio_helpers import CALLER, FakeHttp, message_created, messages_listed, sms_form, twilio_post

HOTLINE = "+8657100012345"
CALLBACK = "http://hotline.test/twilio/sms/status"


def client_with(*answers) -> tuple[Client, FakeHttp]:
    http = FakeHttp(*answers)
    return Client("AC" + "0" * 32, "auth-token", http_client=http), http


def send(now, client, **overrides):
    values = {
        "now": now,
        "client": client,
        "from_number": HOTLINE,
        "status_callback": CALLBACK,
        "max_attempts": 5,
        "retry_seconds": 60,
    }
    return service.send_due(**(values | overrides))


@pytest.fixture
def ticket(client):
    """An SMS ticket from CALLER (its contact may be texted)."""
    twilio_post(client, "/twilio/sms", sms_form())
    return db.session.scalar(select(Ticket))


@pytest.fixture
def queued(ticket, operator, now):
    message = service.text_caller(ticket, actor=operator, now=now, text="您好，我们今天下午上门。")
    db.session.commit()
    return message


def test_a_queued_message_is_sent_through_the_rest_client(queued, now):
    rest, http = client_with(message_created("SM" + "9" * 32))
    report = send(now, rest)
    assert report.sent == [queued.id]
    message = reload(queued)
    assert (message.status, message.provider_sid, message.attempts) == ("sent", "SM" + "9" * 32, 1)
    assert message.sent_at == now and message.last_error is None
    assert message.interaction.provider_sid == "SM" + "9" * 32 and message.interaction.status == "sent"
    [request] = http.requests
    assert request["method"] == "POST" and request["url"].endswith("/Accounts/AC" + "0" * 32 + "/Messages.json")
    assert request["data"]["To"] == CALLER and request["data"]["From"] == HOTLINE
    assert request["data"]["Body"] == "您好，我们今天下午上门。"
    assert request["data"]["StatusCallback"] == CALLBACK
    assert send(now, rest).sent == []  # nothing is sent twice


def test_a_timeout_is_retried_with_backoff_asking_twilio_first_and_given_up_after_the_last_attempt(queued, ticket, now):
    rest, http = client_with(requests.Timeout("read timed out"))
    at = now
    waits = []
    for _ in range(4):
        assert send(at, rest).retrying == [queued.id]
        message = reload(queued)
        # Twilio may have taken it: it stays "sending" until Twilio says whether it did.
        assert message.status == "sending" and "Timeout" in message.last_error and message.claimed_at == now
        waits.append(message.next_attempt_at - at)
        assert send(at + waits[-1] - timedelta(seconds=1), rest).retrying == []  # not due yet
        at = message.next_attempt_at
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480)]
    report = send(at, rest)
    assert report.failed == [queued.id]
    message = reload(queued)
    assert (message.status, message.attempts) == ("failed", 5)
    assert message.last_error.startswith("gave up after 5 attempts: cannot tell whether Twilio took it")
    # One POST; every later attempt asked Twilio (a GET of its messages), which never answered.
    assert [r["method"] for r in http.requests] == ["POST", "GET", "GET", "GET", "GET"]
    assert event_kinds(ticket)[-1] == "sms_failed"
    assert send(at + timedelta(days=1), rest).failed == []


def test_a_server_error_is_retried_after_asking_twilio(queued, now):
    rest, http = client_with(
        (503, {"code": 20503, "message": "Service Unavailable"}), messages_listed(), message_created()
    )
    assert send(now, rest).retrying == [queued.id]
    assert send(now + timedelta(minutes=1), rest).sent == [queued.id]
    assert [r["method"] for r in http.requests] == ["POST", "GET", "POST"]
    assert http.requests[1]["params"]["To"] == CALLER and http.requests[1]["params"]["From"] == HOTLINE


def test_too_many_requests_is_retried_without_asking_twilio(queued, now):
    rest, http = client_with((429, {"code": 20429, "message": "Too Many Requests"}), message_created())
    assert send(now, rest).retrying == [queued.id]
    assert reload(queued).status == "queued"
    assert send(now + timedelta(minutes=1), rest).sent == [queued.id]
    assert [r["method"] for r in http.requests] == ["POST", "POST"]


def _sender_died_after_twilio_took(queued, now, lease=300):
    """A sender claimed the message and died before writing down Twilio's answer."""
    assert service._claim(now, limit=1, lease_seconds=lease) == [(queued.id, None)]
    return now + timedelta(seconds=lease + 1)


def test_a_message_twilio_took_before_its_sender_died_is_not_sent_again(queued, now):
    later = _sender_died_after_twilio_took(queued, now)
    twilio_has = {"sid": "SM" + "7" * 32, "body": queued.body, "created": now + timedelta(seconds=1)}
    rest, http = client_with(messages_listed(twilio_has), message_created("SM" + "8" * 32))
    assert send(later, rest).sent == [queued.id]
    message = reload(queued)
    assert (message.status, message.provider_sid, message.attempts) == ("sent", "SM" + "7" * 32, 2)
    assert message.interaction.provider_sid == "SM" + "7" * 32
    assert [r["method"] for r in http.requests] == ["GET"]  # asked, never posted again


def test_a_message_twilio_never_got_is_sent_once_after_its_sender_died(queued, now):
    later = _sender_died_after_twilio_took(queued, now)
    other_text = {"sid": "SM" + "6" * 32, "body": "另一条短信", "created": now + timedelta(seconds=1)}
    older_same = {"sid": "SM" + "5" * 32, "body": queued.body, "created": now - timedelta(hours=1)}
    rest, http = client_with(messages_listed(other_text, older_same), message_created("SM" + "8" * 32))
    assert send(later, rest).sent == [queued.id]
    assert reload(queued).provider_sid == "SM" + "8" * 32
    assert [r["method"] for r in http.requests] == ["GET", "POST"]


def test_twilio_is_read_page_after_page_down_to_the_claim(queued, now):
    """A duty phone gets many texts: the message may be on a later page of Twilio's list, newest first."""
    later = _sender_died_after_twilio_took(queued, now)
    newer = [{"sid": f"SM{i:032d}", "body": f"别的通知{i}", "created": now + timedelta(seconds=30)} for i in range(60)]
    first_page = messages_listed(*newer)
    first_page[1]["next_page_uri"] = "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json?Page=1&PageSize=60"
    taken = {"sid": "SM" + "7" * 32, "body": queued.body, "created": now + timedelta(seconds=1)}
    before_claim = {"sid": "SM" + "6" * 32, "body": "更早的", "created": now - timedelta(hours=1)}
    rest, http = client_with(first_page, messages_listed(taken, before_claim), message_created("SM" + "8" * 32))
    assert send(later, rest).sent == [queued.id]
    assert reload(queued).provider_sid == "SM" + "7" * 32
    assert [r["method"] for r in http.requests] == ["GET", "GET"]


def test_past_the_lookback_the_sender_cannot_tell_and_sends_nothing(queued, now, monkeypatch):
    monkeypatch.setattr(service, "LOOKBACK", 2)
    later = _sender_died_after_twilio_took(queued, now)
    newer = [{"sid": f"SM{i:032d}", "body": f"别的通知{i}", "created": now + timedelta(seconds=30)} for i in range(3)]
    rest, http = client_with(messages_listed(*newer), message_created("SM" + "8" * 32))
    assert send(later, rest).retrying == [queued.id]
    message = reload(queued)
    assert message.status == "sending" and "cannot tell whether Twilio took it" in message.last_error
    assert [r["method"] for r in http.requests] == ["GET"]


def test_a_twilio_message_that_is_another_rows_is_not_taken_for_this_one(queued, ticket, operator, now):
    earlier = service.text_caller(ticket, actor=operator, now=now, text=queued.body)
    db.session.commit()
    rest, _http = client_with(message_created("SM" + "4" * 32))
    assert send(now, rest, limit=1).sent == [queued.id]  # the first queued goes first
    later = _sender_died_after_twilio_took(reload(earlier), now)
    first = {"sid": "SM" + "4" * 32, "body": queued.body, "created": now}
    rest, http = client_with(messages_listed(first), message_created("SM" + "3" * 32))
    assert send(later, rest).sent == [earlier.id]
    assert reload(earlier).provider_sid == "SM" + "3" * 32
    assert [r["method"] for r in http.requests] == ["GET", "POST"]


def test_one_pass_claims_a_batch_at_a_time_up_to_its_limit(app, now):
    messages = [service.enqueue_sms(to=f"+861390000{i:04d}", body=f"通知{i}", now=now) for i in range(5)]
    db.session.commit()
    ids = [m.id for m in messages]
    claims = []
    real_claim = service._claim

    def watched(now, *, limit, lease_seconds):
        claims.append(limit)
        return real_claim(now, limit=limit, lease_seconds=lease_seconds)

    rest, http = client_with(*[message_created(f"SM{i:032d}") for i in range(5)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "_claim", watched)
        assert send(now, rest, limit=4, batch=3).sent == ids[:4]
    assert claims == [3, 1]  # 3, then what is left of the limit
    assert send(now, rest, batch=3).sent == ids[4:]
    assert len(http.requests) == 5


def test_each_batch_of_a_pass_is_claimed_with_the_clock_read_anew(app, now, monkeypatch):
    """A long pass (a slow Twilio) must not claim its later batches with a lease that ran out already."""
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_NUMBER=HOTLINE, SMS_LEASE_SECONDS=30, TWILIO_TIMEOUT=2)
    assert sender.claim_batch(app) == 5
    for i in range(7):
        service.enqueue_sms(to=f"+861390000{i:04d}", body=f"通知{i}", now=now)
    db.session.commit()
    clock = iter([now, now + timedelta(seconds=25), now + timedelta(seconds=26)])
    monkeypatch.setattr(sender, "utcnow", lambda: next(clock))
    rest, _http = client_with(*[message_created(f"SM{i:032d}") for i in range(7)])
    assert len(send_outbox(app, http_client=rest.http_client).sent) == 7
    sent_at = sorted(m.sent_at for m in db.session.scalars(select(OutboundMessage)))
    assert sent_at == [now] * 5 + [now + timedelta(seconds=25)] * 2


def test_the_api_base_setting_sends_to_another_twilio(app, queued):
    """HOTLINE_TWILIO_API_BASE: the sender posts to that address as it would to api.twilio.com."""
    posts = []

    class FakeTwilio(BaseHTTPRequestHandler):
        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            posts.append((self.path, form["To"][0], form["Body"][0]))
            body = json.dumps({"sid": "SM" + "2" * 32, "status": "queued"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config.update(
            TWILIO_ACCOUNT_SID="AC" + "1" * 32,
            TWILIO_NUMBER=HOTLINE,
            TWILIO_API_BASE=f"http://127.0.0.1:{server.server_port}",
        )
        assert send_outbox(app).sent == [queued.id]
    finally:
        server.shutdown()
        server.server_close()
    assert posts == [("/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages.json", CALLER, queued.body)]
    assert reload(queued).provider_sid == "SM" + "2" * 32


def test_the_lease_outlasts_twice_the_twilio_timeout_for_each_message_of_a_claim(app):
    app.config.update(SMS_LEASE_SECONDS=10, TWILIO_TIMEOUT=7)
    assert sender.lease_seconds(app) == 19
    assert sender.claim_batch(app) == 1  # one message: two calls of 7 s fit in 19 s
    app.config.update(SMS_LEASE_SECONDS=300, TWILIO_TIMEOUT=10)
    assert sender.lease_seconds(app) == 300
    assert sender.claim_batch(app) == 13  # 13 messages of two 10 s calls (and 2 s more) each: 286 s


def test_a_refusal_fails_at_once(queued, now):
    rest, http = client_with((400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}))
    assert send(now, rest).failed == [queued.id]
    message = reload(queued)
    assert message.status == "failed" and "21211" in message.last_error
    assert len(http.requests) == 1


def test_without_credentials_nothing_is_sent_and_each_message_says_so(app, queued, ticket, now):
    assert twilio_client(app) is None  # the test settings have no account SID
    report = send_outbox(app)
    assert report.not_sent == [queued.id]
    message = reload(queued)
    assert (message.status, message.last_error) == ("not_sent", "not sent: no credentials")
    assert event_kinds(ticket)[-1] == "sms_failed"


def test_without_the_hotline_number_nothing_is_sent(queued, now):
    rest, http = client_with(message_created())
    assert send(now, rest, from_number=None).not_sent == [queued.id]
    assert http.requests == []


def test_a_number_that_opted_out_after_queueing_is_never_sent_to(queued, now):
    db.session.execute(update(Contact).values(sms_opt_out=True))
    db.session.commit()
    rest, http = client_with(message_created())
    assert send(now, rest).not_sent == [queued.id]
    assert reload(queued).last_error == service.OPTED_OUT
    assert http.requests == []


def test_a_message_to_an_opted_out_number_is_recorded_unsent_never_queued(client, ticket, now):
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="STOP"))
    message = service.enqueue_sms(to=CALLER, body="转介通知", now=now, ticket=ticket)
    db.session.commit()
    assert (message.status, message.last_error) == ("not_sent", service.OPTED_OUT)
    rest, http = client_with(message_created())
    assert send(now, rest).sent == [] and http.requests == []


def test_an_invalid_number_is_recorded_unsent(app, now):
    message = service.enqueue_sms(to="12345", body="x", now=now)
    db.session.commit()
    assert message.status == "not_sent" and "valid" in message.last_error


def test_a_claimed_message_is_not_claimed_again_until_its_lease_expires(queued, now):
    assert service._claim(now, limit=10, lease_seconds=300) == [(queued.id, None)]
    assert service._claim(now, limit=10, lease_seconds=300) == []
    # The sender died while sending: after the lease the message is tried again, Twilio asked first since the claim.
    assert service._claim(now + timedelta(seconds=301), limit=10, lease_seconds=300) == [(queued.id, now)]
    assert reload(queued).attempts == 2


def test_delivery_status_callbacks_move_forward_only(client, queued, ticket, now):
    rest, _http = client_with(message_created("SM" + "9" * 32))
    send(now, rest)
    status = {"MessageSid": "SM" + "9" * 32, "AccountSid": "AC" + "0" * 32}
    assert twilio_post(client, "/twilio/sms/status", {**status, "MessageStatus": "delivered"}).status_code == 200
    twilio_post(client, "/twilio/sms/status", {**status, "MessageStatus": "sent"})
    message = reload(queued)
    assert message.delivery_status == "delivered" and message.interaction.status == "delivered"


def test_an_undelivered_message_is_on_the_ticket_once(client, queued, ticket, now):
    rest, _http = client_with(message_created("SM" + "9" * 32))
    send(now, rest)
    form = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    twilio_post(client, "/twilio/sms/status", form)
    twilio_post(client, "/twilio/sms/status", form)
    assert event_kinds(ticket).count("sms_failed") == 1
    assert reload(queued).delivery_status == "undelivered"


def test_admins_see_failed_messages_and_send_them_again(client, logged_in, make_user, queued, now):
    rest, _http = client_with((400, {"code": 21211, "message": "invalid To"}))
    send(now, rest)
    logged_in(make_user("admin"))
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert "21211" in html and "138****1234" in html
    r = post_form(client, f"/admin/outbox/{queued.id}/retry", {}, page="/admin/outbox")
    assert r.status_code == 302
    message = reload(queued)
    assert (message.status, message.attempts, message.last_error) == ("queued", 0, None)
    assert "sms_requeued" in audit_kinds()


def test_the_outbox_page_is_for_admins(client, logged_in, operator):
    logged_in(operator)
    assert client.get("/admin/outbox").status_code == 403


def test_send_outbox_command_reports_what_it_did(runner, queued):
    result = runner.invoke(args=["hotline", "send-outbox"])
    assert result.exit_code == 0, result.output
    assert "0 sent" in result.output and "1 not sent" in result.output
    assert reload(queued).last_error == "not sent: no credentials"


def test_the_webhook_never_calls_out(app, client, monkeypatch):
    """Webhooks answer Twilio at once: with credentials set, no REST client is built and nothing leaves the machine.

    Every way out is watched where the code would take it: building the REST
    client, Twilio's HTTP client, requests' transport, the socket layer, and the
    outbox sender itself. The outbox only queues.
    """
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_NUMBER=HOTLINE)
    attempts = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"{name}: no outbound call inside a webhook")

        return refused

    monkeypatch.setattr(twilio.rest.Client, "__init__", refuse("twilio.rest.Client()"))
    monkeypatch.setattr(twilio.http.http_client.TwilioHttpClient, "request", refuse("TwilioHttpClient.request"))
    monkeypatch.setattr(requests.Session, "send", refuse("requests.Session.send"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(sender, "send_outbox", refuse("send_outbox"))
    monkeypatch.setattr(sender, "send_due", refuse("sender.send_due"))
    monkeypatch.setattr(service, "send_due", refuse("service.send_due"))

    first = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "1" * 32, body="家里失火了，有人被困"))
    again = twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "2" * 32, body="请快点"))
    status = twilio_post(
        client,
        "/twilio/sms/status",
        {"MessageSid": "SM" + "3" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32},
    )
    assert [r.status_code for r in (first, again, status)] == [200, 200, 200]
    assert attempts == []
    assert db.session.scalar(select(Ticket.id)) is not None
    sent = db.session.scalars(select(OutboundMessage).where(OutboundMessage.status != "queued")).all()
    assert sent == []


def test_with_credentials_the_rest_client_has_a_timeout(app):
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_TIMEOUT=7)
    rest = twilio_client(app)
    assert rest.username == "AC" + "1" * 32 and rest.http_client.timeout == 7


def test_senders_running_at_once_send_each_message_once(app, now):
    """Three scheduler processes on one database: each message is claimed by exactly one of them."""
    for i in range(20):
        service.enqueue_sms(to=f"+861390000{i:04d}", body=f"通知{i}", now=now)
    db.session.commit()
    start = threading.Barrier(3)
    claimed, errors = [], []

    def sender():
        try:
            with app.app_context():
                start.wait(timeout=30)
                for _ in range(5):
                    claimed.extend(claim.id for claim in service._claim(now, limit=4, lease_seconds=300))
                db.session.remove()
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(repr(exc))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20
