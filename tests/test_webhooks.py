"""Outgoing webhooks: a partner that transferred a case hears, signed and with retries, when it changes state.

The partner is a real HTTP server on 127.0.0.1 in a thread of the test; nothing leaves the machine.
"""

import dataclasses
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.tickets import service as tickets
from hotline.tickets.external import Person, receive_report
from hotline.timeutil import utcnow
from hotline.webhooks import service as webhooks
from hotline.webhooks.policy import WebhookPolicyError, load_webhook_policy, webhook_policy
from models.audit import AuditLog
from models.webhook import WebhookDelivery, WebhookSubscription
from tests.conftest import post_form
from tests.helpers import count, log_call, timeline_kinds
from tests.twilio_helpers import sms_form, twilio_post

PARTNER_PHONE = "13900001111"


@pytest.fixture
def receiver():
    """A partner's endpoint: records each request (headers, raw body) and answers the codes queued in
    ``answers`` in turn (200 once they are used up); ``delay`` seconds before answering."""
    state = SimpleNamespace(received=[], answers=[], delay=0.0, lock=threading.Lock())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append((dict(self.headers), body))
                answer = state.answers.pop(0) if state.answers else 200
            time.sleep(state.delay)
            code, headers = answer if isinstance(answer, tuple) else (answer, {})
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            text = b"ok" if code < 300 else "服务 暂不可用\n".encode()
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hotline/events"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscription(app, receiver, now):
    sub = webhooks.create_subscription(source="12345", url=receiver.url, actor=None, now=now)
    db.session.commit()
    return sub


def transferred(now, *, external_id="GD-2025-0001", phone=PARTNER_PHONE, source="12345"):
    """A case the 12345 platform transferred: a new unclaimed ticket; committed."""
    got = receive_report(
        now=now,
        source=source,
        via="api",
        external_id=external_id,
        summary="独居老人家中断粮",
        person=Person(name="李桂兰", phone=phone),
        priority="P2",
        category="other",
    )
    db.session.commit()
    return got.ticket


def deliveries(**where) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(WebhookDelivery, key) == value)
    return list(db.session.scalars(stmt))


def send(now, **policy_changes):
    return webhooks.send_due(now=now, policy=dataclasses.replace(webhook_policy(), **policy_changes))


# --- queueing ------------------------------------------------------------------------------


def test_a_status_change_of_a_transferred_case_is_queued_with_the_change(subscription, operator, now):
    ticket = transferred(now)
    assert deliveries() == []  # the report itself is not a state change
    tickets.take_ticket(ticket, actor=operator, now=now + timedelta(minutes=2))
    db.session.commit()
    (delivery,) = deliveries()
    assert (delivery.status, delivery.event, delivery.ticket_id, delivery.attempts) == ("queued", "taken", ticket.id, 0)
    body = json.loads(delivery.body)
    assert body == {
        "delivery": delivery.uid,
        "source": "12345",
        "external_ids": ["GD-2025-0001"],
        "ticket": ticket.number,
        "event": "taken",
        "status": "open",
        "priority": "P2",
        "at": "2025-10-09T04:02:00Z",
        "referrals": [],
    }
    assert "李桂兰" not in delivery.body and PARTNER_PHONE not in delivery.body


def test_a_rolled_back_change_queues_nothing(subscription, operator, now):
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.rollback()
    assert deliveries() == []


def test_a_note_a_text_from_the_person_or_another_source_queue_nothing(client, subscription, operator, now):
    ticket = transferred(now)
    tickets.add_note(ticket, actor=operator, now=now, text="已电话联系村委会")
    db.session.commit()
    # The person texts in: the SMS webhook's fast path puts it on their open ticket's timeline.
    twilio_post(client, "/twilio/sms", sms_form(sid="SM" + "7" * 32, sender="+86" + PARTNER_PHONE, body="好的谢谢"))
    assert timeline_kinds(ticket)[-1] == "sms_in"
    other = transferred(now, external_id="P-9", phone="13900002222", source="partner")
    tickets.take_ticket(other, actor=operator, now=now)
    db.session.commit()
    assert deliveries() == []


def test_only_the_changes_a_subscription_chose_are_sent(app, receiver, operator, now):
    webhooks.create_subscription(source="12345", url=receiver.url, events=["closed"], actor=None, now=now)
    db.session.commit()
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    tickets.close_ticket(
        ticket, actor=operator, now=now + timedelta(hours=1), resolution="已送米面油，联系电话13812345678"
    )
    db.session.commit()
    (delivery,) = deliveries()
    body = json.loads(delivery.body)
    assert (body["event"], body["status"]) == ("closed", "closed")
    assert body["resolution"] == "已送米面油，联系电话138****5678"  # numbers in free text never leave unmasked


def test_referral_states_and_a_units_result_are_in_the_body(subscription, operator, civil, civil_staff, now):
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    referral = referrals.dispatch_referral(ticket, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    referrals.acknowledge(referral, actor=civil_staff, now=now + timedelta(minutes=5))
    referrals.resolve(
        referral,
        actor=civil_staff,
        now=now + timedelta(hours=3),
        result="已纳入临时救助",
        outcome="relief_granted",
    )
    db.session.commit()
    events = [d.event for d in deliveries()]
    assert events == ["taken", "referral_dispatched", "referral_acknowledged", "referral_resolved", "referrals_done"]
    resolved, done = (json.loads(d.body) for d in deliveries()[-2:])
    assert resolved["unit_name"] == "县民政局" and resolved["status"] == "referred"
    assert resolved["referrals"] == [
        {
            "unit": "civil_affairs",
            "unit_name": "县民政局",
            "role": "lead",
            "status": "resolved",
            "result": "已纳入临时救助",
            "outcome": "relief_granted",
        }
    ]
    assert done["status"] == "pending_callback"


def test_a_report_added_to_an_open_ticket_makes_that_ticket_watched(subscription, operator, now):
    own = log_call(operator, now, phone=PARTNER_PHONE)
    got = receive_report(
        now=now,
        source="12345",
        via="api",
        external_id="GD-7",
        summary="同一老人再次求助",
        person=Person(phone=PARTNER_PHONE),
    )
    db.session.commit()
    assert got.outcome == "added_to_open" and got.ticket.id == own.id
    tickets.resolve_directly(own, actor=operator, now=now + timedelta(minutes=30), answer="已告知低保申请流程")
    db.session.commit()
    (delivery,) = deliveries()
    body = json.loads(delivery.body)
    assert (body["event"], body["external_ids"], body["resolution"]) == (
        "resolved_directly",
        ["GD-7"],
        "已告知低保申请流程",
    )


def test_a_merged_case_is_followed_to_the_ticket_it_went_to(subscription, operator, now):
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    target = log_call(operator, now, phone="13900003333")
    tickets.merge_ticket(ticket, actor=operator, now=now, target=target, reason="同一户")
    db.session.commit()
    merged = json.loads(deliveries(event="merged_into")[0].body)
    assert (merged["status"], merged["merged_into"]) == ("merged", target.number)
    tickets.close_ticket(target, actor=operator, now=now + timedelta(hours=2), resolution="已上门送达")
    db.session.commit()
    closed = json.loads(deliveries(event="closed")[0].body)
    assert (closed["ticket"], closed["external_ids"]) == (target.number, ["GD-2025-0001"])


def test_a_deactivated_webhook_queues_nothing_and_cancels_what_waits(subscription, operator, make_user, now):
    admin = make_user("admin")
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    assert webhooks.deactivate_subscription(subscription, actor=admin, now=now) == 1
    db.session.commit()
    assert [d.status for d in deliveries()] == ["cancelled"]
    tickets.close_ticket(ticket, actor=operator, now=now, resolution="已解决")
    db.session.commit()
    assert len(deliveries()) == 1
    assert db.session.scalar(select(AuditLog.kind).order_by(AuditLog.id.desc())) == "webhook_deactivated"


# --- sending -------------------------------------------------------------------------------


def _taken(operator, now):
    ticket = transferred(now)
    tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    return ticket


def test_a_delivery_reaches_the_partner_signed_so_it_can_verify_it(receiver, subscription, operator, now):
    _taken(operator, now)
    report = send(now)
    (delivery,) = deliveries()
    assert report.delivered == [delivery.id] and delivery.status == "delivered"
    assert (delivery.attempts, delivery.last_status_code, delivery.delivered_at) == (1, 200, delivery.delivered_at)
    ((headers, raw),) = receiver.received
    # What the partner does: HMAC-SHA256 of the raw body with the shared secret, compared in constant time.
    expected = "sha256=" + hmac.new(subscription.secret.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hotline-Signature"], expected)
    assert not hmac.compare_digest(
        headers["X-Hotline-Signature"],
        "sha256=" + hmac.new(b"another secret", raw, hashlib.sha256).hexdigest(),
    )
    assert headers["X-Hotline-Delivery"] == delivery.uid == json.loads(raw)["delivery"]
    assert headers["X-Hotline-Event"] == "taken"
    assert abs(int(headers["X-Hotline-Timestamp"]) - now.timestamp()) < 5
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert raw == delivery.body.encode()
    assert send(now + timedelta(minutes=1)).delivered == []  # delivered once, never again


def test_a_server_error_is_retried_with_backoff_then_delivered_with_the_same_id(receiver, subscription, operator, now):
    _taken(operator, now)
    receiver.answers.extend([500])
    report = send(now)
    (delivery,) = deliveries()
    assert report.retrying == [delivery.id]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("queued", 1, 500)
    assert delivery.last_error.startswith("HTTP 500: 服务 暂不可用")
    wait = (delivery.next_attempt_at - now).total_seconds()
    assert 30 <= wait < 32  # first_retry_seconds of webhooks.toml
    assert send(now + timedelta(seconds=20)).delivered == []  # not due yet: nothing sent
    assert len(receiver.received) == 1
    assert send(now + timedelta(seconds=32)).delivered == [delivery.id]
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 2, None)
    (first_headers, first), (second_headers, second) = receiver.received
    assert first == second and first_headers["X-Hotline-Delivery"] == second_headers["X-Hotline-Delivery"]


def test_backoff_doubles_and_the_delivery_is_given_up_after_the_last_attempt(receiver, subscription, operator, now):
    _taken(operator, now)
    receiver.answers.extend([503] * 10)
    at, waits = now, []
    for _ in range(3):
        send(at, max_attempts=4)
        (delivery,) = deliveries()
        waits.append(round((delivery.next_attempt_at - at).total_seconds()))
        at = delivery.next_attempt_at + timedelta(seconds=1)
    assert waits == [30, 60, 120]
    report = send(at, max_attempts=4)
    (delivery,) = deliveries()
    assert report.failed == [delivery.id]
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 4, None)
    assert delivery.last_error.startswith("gave up after 4 attempts: HTTP 503")
    assert len(receiver.received) == 4
    assert send(at + timedelta(days=1)).failed == []


def test_a_refusal_fails_at_once_and_too_many_requests_waits_as_asked(receiver, subscription, operator, now):
    _taken(operator, now)
    receiver.answers.extend([(429, {"Retry-After": "300"})])
    send(now)
    (delivery,) = deliveries()
    assert delivery.status == "queued" and round((delivery.next_attempt_at - now).total_seconds()) == 300
    receiver.answers.extend([404])
    report = send(now + timedelta(seconds=301))
    db.session.refresh(delivery)
    assert report.failed == [delivery.id]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 404)
    assert delivery.last_error.startswith("HTTP 404")


def test_an_unreachable_partner_or_a_timeout_is_retried(receiver, subscription, operator, now):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    subscription.url = f"http://127.0.0.1:{closed_port}/hook"
    db.session.commit()
    _taken(operator, now)
    send(now)
    (delivery,) = deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("queued", 1, None)
    assert delivery.last_error == "ConnectionError: [Errno 111] Connection refused"
    subscription.url = receiver.url
    db.session.commit()
    receiver.delay = 1.0
    send(delivery.next_attempt_at, timeout_seconds=0.3)
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("queued", 2)
    assert delivery.last_error == "ReadTimeout: no answer within 0.3 s"


def test_a_redirect_is_not_followed(receiver, subscription, operator, now):
    _taken(operator, now)
    receiver.answers.extend([(302, {"Location": "http://127.0.0.1:9/elsewhere"})])
    send(now)
    (delivery,) = deliveries()
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert len(receiver.received) == 1


def test_senders_running_at_once_deliver_each_delivery_once(app, receiver, subscription, operator, now):
    """Three scheduler processes on one database: each delivery is posted by exactly one of them."""
    for i in range(12):
        ticket = transferred(now, external_id=f"GD-{i}", phone=f"1390000{i:04d}")
        tickets.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    receiver.delay = 0.02  # each POST takes a little while, so the senders overlap
    start = threading.Barrier(3)
    errors = []

    def sender():
        try:
            with app.app_context():
                start.wait(timeout=30)
                send(now)
                db.session.remove()
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(repr(exc))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    uids = [headers["X-Hotline-Delivery"] for headers, _ in receiver.received]
    assert len(uids) == 12 and len(set(uids)) == 12
    db.session.expire_all()
    assert {(d.status, d.attempts) for d in deliveries()} == {("delivered", 1)}


def test_an_expired_claim_is_taken_again(receiver, subscription, operator, now):
    _taken(operator, now)
    claimed = webhooks._claim_one(now, lease_seconds=80)
    assert claimed is not None and webhooks._claim_one(now + timedelta(seconds=79), lease_seconds=80) is None
    report = send(now + timedelta(seconds=81))
    assert len(report.delivered) == 1 and deliveries()[0].attempts == 2


# --- admins --------------------------------------------------------------------------------


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="adm_li")


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(client, logged_in, admin, receiver):
    logged_in(admin)
    page = client.get("/admin/webhooks/new").get_data(as_text=True)
    assert "12345 热线转办" in page and page.count('<input checked id="events-') == len(webhook_policy().kinds)
    response = post_form(
        client, "/admin/webhooks/new", {"source": "12345", "url": receiver.url, "events": ["taken", "closed"]}
    )
    assert response.status_code == 200
    sub = db.session.scalar(select(WebhookSubscription))
    html = response.get_data(as_text=True)
    assert sub.secret in html and sub.events == ["taken", "closed"]
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert sub.secret not in listing and "whsec_…" + sub.secret[-4:] in listing and receiver.url in listing
    assert sub.secret not in client.get(f"/admin/webhooks/{sub.id}").get_data(as_text=True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "webhook_created"))
    assert entry.actor_id == admin.id and entry.payload["url"] == receiver.url and "secret" not in entry.payload


def test_a_bad_url_or_no_change_is_refused_with_the_rule(client, logged_in, admin):
    logged_in(admin)
    for url, message in (
        ("ftp://127.0.0.1/x", "地址须以 http:// 或 https:// 开头"),
        ("http://user:pw@127.0.0.1/x", "地址中不要写用户名或密码"),
        ("http://127.0.0.1:notaport/x", "这不是有效的地址"),
    ):
        response = post_form(client, "/admin/webhooks/new", {"source": "12345", "url": url, "events": ["closed"]})
        assert response.status_code == 400 and message in response.get_data(as_text=True), url
    response = post_form(client, "/admin/webhooks/new", {"source": "12345", "url": "https://a.example/h"})
    assert response.status_code == 400
    response = post_form(client, "/admin/webhooks/new", {"source": "nope", "url": "https://a.example/h"})
    assert response.status_code == 400
    assert count(WebhookSubscription) == 0


def test_an_admin_edits_replaces_the_secret_and_deactivates(client, logged_in, admin, subscription):
    logged_in(admin)
    old_secret = subscription.secret
    response = post_form(
        client,
        f"/admin/webhooks/{subscription.id}",
        {"url": "https://12345.example.gov.cn/hotline", "events": ["closed", "reopened"]},
    )
    assert response.status_code == 302
    db.session.refresh(subscription)
    assert (subscription.url, subscription.events) == ("https://12345.example.gov.cn/hotline", ["closed", "reopened"])
    response = post_form(client, f"/admin/webhooks/{subscription.id}/secret", {})
    db.session.refresh(subscription)
    assert subscription.secret != old_secret and subscription.secret in response.get_data(as_text=True)
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "data-confirm" in page
    assert post_form(client, f"/admin/webhooks/{subscription.id}/deactivate", {}).status_code == 302
    db.session.refresh(subscription)
    assert subscription.active is False
    kinds = db.session.scalars(select(AuditLog.kind).order_by(AuditLog.id)).all()
    assert kinds[-3:] == ["webhook_updated", "webhook_secret_replaced", "webhook_deactivated"]


def test_admins_see_deliveries_by_status_and_retry_a_failed_one(
    client, logged_in, admin, receiver, subscription, operator, now
):
    ticket = _taken(operator, now)
    receiver.answers.extend([410])
    send(now)
    (delivery,) = deliveries()
    logged_in(admin)
    failed = client.get("/admin/webhooks/deliveries?status=failed").get_data(as_text=True)
    assert ticket.number in failed and "HTTP 410" in failed and "data-confirm" in failed
    assert f'/tickets/{ticket.number}"' not in failed  # admins do not open cases: the number only
    assert ticket.number not in client.get("/admin/webhooks/deliveries?status=delivered").get_data(as_text=True)
    assert client.get("/admin/webhooks/deliveries?status=bogus&page=99").status_code == 200
    response = post_form(client, f"/admin/webhooks/deliveries/{delivery.id}/retry", {"status": "failed"})
    assert response.status_code == 302
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("queued", 0, None)
    assert db.session.scalar(select(AuditLog.kind).order_by(AuditLog.id.desc())) == "webhook_retried"
    assert send(utcnow() + timedelta(seconds=1)).delivered == [delivery.id]  # the admin's retry is due at once


def test_the_webhook_pages_are_for_admins(client, logged_in, operator):
    logged_in(operator)
    assert client.get("/admin/webhooks").status_code == 403
    assert client.get("/admin/webhooks/deliveries").status_code == 403


def test_an_empty_list_says_what_to_do(client, logged_in, admin):
    logged_in(admin)
    assert "12345" in client.get("/admin/webhooks").get_data(as_text=True)
    assert client.get("/admin/webhooks/deliveries").status_code == 200


# --- commands and policy -------------------------------------------------------------------


def test_add_webhook_prints_the_secret_last_and_send_webhooks_sends(runner, receiver, operator, now):
    result = runner.invoke(args=["hotline", "add-webhook", "12345", receiver.url, "--events", "taken,closed"])
    assert result.exit_code == 0, result.output
    sub = db.session.scalar(select(WebhookSubscription))
    assert result.output.strip().splitlines()[-1] == sub.secret and sub.events == ["taken", "closed"]
    refused = runner.invoke(args=["hotline", "add-webhook", "nobody", receiver.url])
    assert refused.exit_code != 0 and "sources.toml" in refused.output
    _taken(operator, now)
    result = runner.invoke(args=["hotline", "send-webhooks"])
    assert result.exit_code == 0 and "1 delivered" in result.output
    assert len(receiver.received) == 1


def test_a_malformed_webhooks_policy_is_refused_with_the_key(tmp_path):
    path = tmp_path / "webhooks.toml"
    path.write_text('[events]\nkinds = ["closed", "sms_in_typo"]\n[delivery]\ntimeout_seconds = 10\n')
    with pytest.raises(WebhookPolicyError, match="unknown event kinds"):
        load_webhook_policy(path)
    good = (
        '[events]\nkinds = ["closed"]\n[delivery]\ntimeout_seconds = 10\nmax_attempts = 0\n'
        "first_retry_seconds = 30\nbackoff_factor = 2\nmax_backoff_seconds = 3600\n"
    )
    path.write_text(good)
    with pytest.raises(WebhookPolicyError, match="max_attempts"):
        load_webhook_policy(path)
    path.write_text(good.replace("max_attempts = 0", "max_attempts = 3"))
    assert load_webhook_policy(path).retry_delay(2) == 60


def test_taking_a_case_on_its_page_queues_the_delivery_and_calls_nobody(
    client, logged_in, receiver, subscription, operator, now
):
    ticket = transferred(now)
    logged_in(operator)
    response = post_form(
        client, f"/tickets/{ticket.number}/take", {"version": ticket.version}, page=f"/tickets/{ticket.number}"
    )
    assert response.status_code == 302
    (delivery,) = deliveries()
    assert (delivery.event, delivery.status) == ("taken", "queued")
    assert receiver.received == []  # the request only wrote the delivery: the scheduler sends it


def test_the_app_does_not_start_with_a_malformed_webhooks_file(tmp_path, database_url):
    import shutil
    from pathlib import Path

    from hotline import create_app
    from tests.conftest import app_config

    shutil.copytree(Path(__file__).resolve().parent.parent / "config" / "policy", tmp_path / "policy")
    path = tmp_path / "policy" / "webhooks.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("max_attempts = 8", "max_attempts = -1"), "utf-8")
    with pytest.raises(WebhookPolicyError, match=r"webhooks.toml \[delivery\]: max_attempts must be a whole number"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path / "policy"})
