"""The partner API (/api/v1): tokens and scopes, reporting a case, reading tickets, syncing, a unit's referrals,
errors, the rate limit and the audit trail. Every answer is checked against the OpenAPI document it serves."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from hotline.api.policy import ApiPolicy
from hotline.api.tokens import count_request, revoke_token
from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.relief.service import grant_relief
from hotline.timeutil import utcnow
from models.api_token import ApiIdempotency, ApiRateWindow
from models.audit import AuditLog
from models.external_report import ExternalReport
from models.referral import Referral
from models.ticket import Ticket, TicketEvent
from tests.api_helpers import HAN, PROBLEM, call, conforms, make_token
from tests.helpers import count, log_call

GOOD_ID = "11010519491231002X"
REPORT = {
    "source": "12345",
    "external_id": "GD-0001",
    "summary": "独居老人家中断粮",
    "description": "老人独居，已两天没有吃饭",
    "person": {"name": "李桂兰", "phone": "13900001111", "id_number": GOOD_ID, "address": "东关社区3号"},
}


def post_ticket(client, secret, body=None, headers=None):
    response = call(client, "POST", "/api/v1/tickets", secret, json=body or REPORT, headers=headers)
    conforms(client, response, "POST", "/api/v1/tickets")
    return response


def problem(client, response, method, path, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = conforms(client, response, method, path)
    assert response.mimetype == PROBLEM and body["status"] == status
    assert HAN.search(body["detail"]), body["detail"]
    return body


# --- tokens and scopes ---------------------------------------------------------------------


def test_no_token_or_an_unknown_or_revoked_one_is_401(client):
    body = problem(client, call(client, "GET", "/api/v1/tickets"), "GET", "/api/v1/tickets", 401)
    assert "令牌" in body["detail"]
    assert call(client, "GET", "/api/v1/tickets").headers["WWW-Authenticate"].startswith("Bearer")
    problem(client, call(client, "GET", "/api/v1/tickets", "hk_not-a-token"), "GET", "/api/v1/tickets", 401)
    token, secret = make_token("read")
    assert call(client, "GET", "/api/v1/tickets", secret).status_code == 200
    revoke_token(token, actor=None, now=utcnow())
    db.session.commit()
    body = problem(client, call(client, "GET", "/api/v1/tickets", secret), "GET", "/api/v1/tickets", 401)
    assert "吊销" in body["detail"]


@pytest.mark.parametrize(
    ("scopes", "method", "path"),
    [
        (("read",), "POST", "/api/v1/tickets"),
        (("intake",), "GET", "/api/v1/tickets"),
        (("intake",), "GET", "/api/v1/tickets/202510090001"),
        (("intake", "read"), "POST", "/api/v1/referrals/1/acknowledge"),
    ],
)
def test_a_token_without_the_scope_is_403(client, scopes, method, path):
    _token, secret = make_token(*scopes)
    response = call(client, method, path, secret, json={})
    body = problem(client, response, method, path, 403)
    assert "权限" in body["detail"] or "scope" in body["detail"]
    assert count(Ticket) == 0


def test_every_use_is_audited_and_the_token_remembers_when(client):
    token, secret = make_token("intake")
    assert token.last_used_at is None
    post_ticket(client, secret)
    call(client, "GET", "/api/v1/tickets", secret)  # refused: no read scope
    entries = db.session.scalars(select(AuditLog).where(AuditLog.kind == "api_used").order_by(AuditLog.id)).all()
    assert [(e.target, e.payload["method"], e.payload["status"]) for e in entries] == [
        (token.prefix, "POST", 201),
        (token.prefix, "GET", 403),
    ]
    assert entries[0].payload["token"] == token.name and entries[0].payload["outcome"] == "created"
    assert db.session.get(type(token), token.id).last_used_at is not None


# --- reporting a case ----------------------------------------------------------------------


def test_a_report_opens_a_ticket_and_answers_201(client):
    _token, secret = make_token("intake")
    response = post_ticket(client, secret)
    assert response.status_code == 201
    body = response.get_json()
    assert body["outcome"] == "created" and body["status"] == "new" and body["channel"] == "api"
    assert body["source"] == "12345"
    ticket = db.session.scalar(select(Ticket))
    assert body["number"] == ticket.number and body["priority"] == ticket.priority
    assert body["person"] == {
        "name": None,
        "phone": "139****1111",
        "id_number": "1101**********002X",
        "township": None,
        "village": None,
        "address": None,
        "masked": True,
    }
    assert ticket.contact.name == "李桂兰" and ticket.contact.phone == "+8613900001111"
    report = db.session.scalar(select(ExternalReport))
    assert (report.via, report.extra) == ("api", {"token": _token.name})


def test_monitoring_and_grid_reports_are_proactive_and_priority_comes_from_the_request_or_triage(client):
    _token, secret = make_token("intake")
    given = post_ticket(client, secret, {"source": "monitoring", "summary": "收入骤降预警", "priority": "P3"})
    assert given.get_json()["channel"] == "proactive" and given.get_json()["priority"] == "P3"
    triaged = post_ticket(client, secret, {"source": "grid", "summary": "有人说不想活了，要跳楼"})
    assert triaged.get_json()["channel"] == "proactive" and triaged.get_json()["priority"] == "P0"


def test_the_same_source_and_external_id_never_make_a_second_ticket(client):
    _token, secret = make_token("intake")
    first = post_ticket(client, secret).get_json()
    again = post_ticket(client, secret, {**REPORT, "summary": "再次推送"})
    assert again.status_code == 200
    assert again.get_json()["outcome"] == "duplicate" and again.get_json()["number"] == first["number"]
    assert count(Ticket) == 1


def test_a_person_with_an_open_ticket_gets_the_report_added(client, operator, now):
    ticket = log_call(operator, now, phone="13900001111")
    _token, secret = make_token("intake")
    response = post_ticket(client, secret)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "added_to_open" and response.get_json()["number"] == ticket.number
    assert count(Ticket) == 1
    assert count(TicketEvent, TicketEvent.kind == "external_report", TicketEvent.ticket_id == ticket.id) == 1


def test_township_and_village_are_unit_codes(client, make_department):
    township = make_department(code="dongguan_town", name="东关镇", kind="township", level="township")
    make_department(code="dongguan_comm", name="东关社区", kind="village", level="village", parent=township)
    _token, secret = make_token("intake")
    body = {**REPORT, "person": {"phone": "13900002222", "village": "dongguan_comm"}}
    assert post_ticket(client, secret, body).get_json()["person"]["township"] == "dongguan_town"
    unknown = {**REPORT, "external_id": "GD-2", "person": {"township": "nowhere"}}
    detail = problem(client, post_ticket(client, secret, unknown), "POST", "/api/v1/tickets", 422)["detail"]
    assert "nowhere" in detail and "乡镇" in detail
    assert count(Ticket) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "12345"}, "summary"),
        ({**REPORT, "priority": "P9"}, "priority"),
        ({**REPORT, "summary": "含\x00字符"}, "summary"),
        ({**REPORT, "unknown": 1}, "unknown"),
        ({**REPORT, "due_at": "2026-01-01T10:00:00"}, "due_at"),
        ({**REPORT, "due_at": "0001-01-01T00:00:00+08:00"}, "due_at"),
        ({**REPORT, "person": {"phone": 13900001111}}, "person.phone"),
        ([1, 2], "(body)"),
    ],
)
def test_a_body_that_does_not_match_the_schema_is_422_naming_the_field(client, body, field):
    _token, secret = make_token("intake")
    found = problem(client, post_ticket(client, secret, body), "POST", "/api/v1/tickets", 422)
    assert field in {e["field"] for e in found["errors"]}
    assert field in found["detail"]
    assert count(Ticket) == 0


def test_json_that_is_not_json_is_422_and_a_service_refusal_is_422_in_chinese(client):
    _token, secret = make_token("intake")
    response = call(
        client, "POST", "/api/v1/tickets", secret, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem(client, response, "POST", "/api/v1/tickets", 422)
    refused = post_ticket(client, secret, {**REPORT, "source": "nosuch"})
    assert "nosuch" in problem(client, refused, "POST", "/api/v1/tickets", 422)["detail"]
    bad_id = post_ticket(client, secret, {**REPORT, "person": {"id_number": "110105194912310021"}})
    assert "校验位" in problem(client, bad_id, "POST", "/api/v1/tickets", 422)["detail"]
    assert count(Ticket) == 0


# --- Idempotency-Key -------------------------------------------------------------------------


def test_the_same_idempotency_key_returns_the_first_answer(client):
    _token, secret = make_token("intake")
    key = {"Idempotency-Key": "c0ffee-1"}
    body = {"source": "partner", "summary": "走失老人需要临时安置"}  # no external id: only the key dedupes
    first = post_ticket(client, secret, body, headers=key)
    again = post_ticket(client, secret, body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert count(Ticket) == 1
    other = post_ticket(client, secret, {**body, "summary": "另一件事"}, headers=key)
    assert "Idempotency-Key" in problem(client, other, "POST", "/api/v1/tickets", 422)["detail"]
    assert count(Ticket) == 1
    assert post_ticket(client, secret, body, headers={"Idempotency-Key": "c0ffee-2"}).status_code == 201
    assert count(Ticket) == 2


def test_a_refused_request_stores_no_answer_for_its_key(client):
    _token, secret = make_token("intake")
    key = {"Idempotency-Key": "k-422"}
    assert post_ticket(client, secret, {**REPORT, "source": "nosuch"}, headers=key).status_code == 422
    assert count(ApiIdempotency) == 0
    bad_key = post_ticket(client, secret, headers={"Idempotency-Key": "有中文"})
    problem(client, bad_key, "POST", "/api/v1/tickets", 422)


THREADS = 6


def _posted_at_once(app, secret, body, headers):
    start = threading.Barrier(THREADS)
    answers, errors = [], []
    lock = threading.Lock()

    def run():
        try:
            client = app.test_client()
            start.wait(timeout=30)
            response = call(client, "POST", "/api/v1/tickets", secret, json=body, headers=headers)
            with lock:
                answers.append((response.status_code, response.get_json()))
        except Exception as exc:  # reported below
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return answers


def test_concurrent_retries_with_one_idempotency_key_make_one_ticket(app):
    _token, secret = make_token("intake")
    body = {"source": "partner", "summary": "走失老人需要临时安置", "person": {"phone": "13900003333"}}
    answers = _posted_at_once(app, secret, body, {"Idempotency-Key": "same-key"})
    db.session.expire_all()
    assert count(Ticket) == 1 and count(ApiIdempotency) == 1
    assert {status for status, _body in answers} == {201}
    assert len({body["number"] for _status, body in answers}) == 1
    assert {body["outcome"] for _status, body in answers} == {"created"}


def test_concurrent_reports_of_one_external_id_make_one_ticket(app):
    _token, secret = make_token("intake")
    answers = _posted_at_once(app, secret, {**REPORT, "person": {"phone": "13900004444"}}, {})
    db.session.expire_all()
    assert count(Ticket) == 1
    assert sorted(status for status, _body in answers) == [200] * (THREADS - 1) + [201]
    assert len({body["number"] for _status, body in answers}) == 1


# --- reading ---------------------------------------------------------------------------------


@pytest.fixture
def referred(app, operator, civil, health, civil_staff, manager):
    """A P1 ticket referred an hour ago (the API reads the clock) to the civil affairs bureau (acknowledged) and
    to health, with relief granted."""
    now = utcnow() - timedelta(hours=1)
    ticket = log_call(operator, now, phone="13900005555", caller_name="赵大爷")
    referrals.dispatch_referral(ticket, department=civil, role="lead", actor=operator, now=now)
    referrals.dispatch_referral(ticket, department=health, role="assist", actor=operator, now=now)
    db.session.flush()
    referrals.acknowledge(ticket.referrals[0], actor=civil_staff, now=now + timedelta(minutes=5))
    grant_relief(
        ticket,
        actor=operator,
        now=now + timedelta(minutes=10),
        kind="temporary_assistance",
        amount_yuan=Decimal("800"),
        granting_unit=civil,
        reason="先行救助：住院押金",
    )
    db.session.commit()
    return ticket


def test_a_ticket_reads_with_referrals_relief_and_masked_person(client, referred):
    _token, secret = make_token("read")
    path = f"/api/v1/tickets/{referred.number}"
    response = call(client, "GET", path, secret)
    body = conforms(client, response, "GET", path)
    assert (body["number"], body["status"], body["priority"]) == (referred.number, "referred", "P1")
    assert [(r["unit"], r["role"], r["status"]) for r in body["referrals"]] == [
        ("civil_affairs", "lead", "acknowledged"),
        ("health", "assist", "dispatched"),
    ]
    assert body["referrals"][1]["acknowledge_due_at"] is not None
    assert body["referrals"][0]["resolve_due_at"] is not None
    assert body["relief_granted_fen"] == 80000 and body["relief"][0]["amount_fen"] == 80000
    glance = body["relief_summary"]  # the ticket page's relief at a glance
    assert (glance["granted_fen"], glance["paid_fen"], glance["unpaid_fen"]) == (80000, 0, 80000)
    assert glance["by_source"][0]["source"] == "temporary_assistance" and glance["limit"]["over"] is None
    assert "reliefs" not in glance  # staff names and comments stay on the page
    assert body["person"]["phone"] == "139****5555" and body["person"]["name"] is None
    assert "escalation_level" in body


def test_read_personal_unmasks_the_person(client, referred):
    _token, secret = make_token("read_personal")
    body = call(client, "GET", f"/api/v1/tickets/{referred.number}", secret).get_json()
    assert body["person"]["phone"] == "+8613900005555" and body["person"]["name"] == "赵大爷"
    assert body["person"]["masked"] is False


def test_an_unknown_ticket_is_404_and_a_units_token_reads_only_its_units_tickets(
    client, referred, operator, now, make_department
):
    _token, secret = make_token("read")
    path = "/api/v1/tickets/209901010001"
    problem(client, call(client, "GET", path, secret), "GET", path, 404)
    other = log_call(operator, now, phone="13900006666")
    health = db.session.scalar(select(Referral).where(Referral.role == "assist")).department
    _unit_token, unit_secret = make_token("read", department=health)
    mine = call(client, "GET", f"/api/v1/tickets/{referred.number}", unit_secret).get_json()
    assert [r["unit"] for r in mine["referrals"]] == ["health"]  # the unit reads its own referral only
    problem(
        client, call(client, "GET", f"/api/v1/tickets/{other.number}", unit_secret), "GET", "/api/v1/tickets/x", 404
    )
    listed = call(client, "GET", "/api/v1/tickets", unit_secret).get_json()
    assert [t["number"] for t in listed["items"]] == [referred.number]


def test_sync_pages_by_cursor_and_sees_later_changes(client, operator, civil, civil_staff, now):
    tickets = [log_call(operator, now + timedelta(minutes=i), phone=f"1390000{i:04d}") for i in range(5)]
    _token, secret = make_token("read")
    first = call(client, "GET", "/api/v1/tickets?limit=2", secret)
    page = conforms(client, first, "GET", "/api/v1/tickets")
    assert [t["number"] for t in page["items"]] == [t.number for t in tickets[:2]] and page["has_more"]
    seen = [t["number"] for t in page["items"]]
    while page["has_more"]:
        page = call(client, "GET", f"/api/v1/tickets?limit=2&cursor={page['next_cursor']}", secret).get_json()
        seen += [t["number"] for t in page["items"]]
    assert seen == [t.number for t in tickets]
    cursor = page["next_cursor"]
    assert call(client, "GET", f"/api/v1/tickets?cursor={cursor}", secret).get_json()["items"] == []
    # A unit acknowledging a referral later is a change of the ticket: the next sync brings it.
    referrals.dispatch_referral(tickets[1], department=civil, role="lead", actor=operator, now=now + timedelta(hours=1))
    db.session.flush()
    referrals.acknowledge(tickets[1].referrals[0], actor=civil_staff, now=now + timedelta(hours=2))
    db.session.commit()
    later = call(client, "GET", f"/api/v1/tickets?cursor={cursor}", secret).get_json()
    assert [t["number"] for t in later["items"]] == [tickets[1].number]
    assert later["items"][0]["referrals"][0]["status"] == "acknowledged"
    since = (now + timedelta(minutes=3)).isoformat()
    recent = call(client, "GET", "/api/v1/tickets", secret, data=None, headers=None)
    assert len(recent.get_json()["items"]) == 5
    recent = client.get(
        "/api/v1/tickets", query_string={"updated_since": since}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert [t["number"] for t in recent.get_json()["items"]] == [
        tickets[3].number,
        tickets[4].number,
        tickets[1].number,
    ]


@pytest.mark.parametrize(
    "query",
    [
        "cursor=nonsense",
        "cursor=WzEsMl0",
        "limit=0",
        "limit=x",
        "updated_since=yesterday",
        "updated_since=0.5",
        "other=1",
    ],
)
def test_a_bad_query_is_422(client, query):
    _token, secret = make_token("read")
    problem(client, call(client, "GET", f"/api/v1/tickets?{query}", secret), "GET", "/api/v1/tickets", 422)


# --- a unit's referrals ----------------------------------------------------------------------


def test_a_units_token_acknowledges_and_resolves_through_the_service(client, referred, health):
    token, secret = make_token("referrals", "read", department=health)
    referral = db.session.scalar(select(Referral).where(Referral.department_id == health.id))
    path = f"/api/v1/referrals/{referral.id}/acknowledge"
    body = conforms(client, call(client, "POST", path, secret), "POST", path)
    assert body["status"] == "acknowledged" and body["ticket"] == referred.number
    again = call(client, "POST", path, secret, json={})
    assert "签收" in problem(client, again, "POST", path, 422)["detail"]
    progress = f"/api/v1/referrals/{referral.id}/progress"
    answer = call(client, "POST", progress, secret, json={"text": "已电话联系家属", "contacted": True})
    assert conforms(client, answer, "POST", progress)["status"] == "in_progress"
    resolve = f"/api/v1/referrals/{referral.id}/resolve"
    done = call(client, "POST", resolve, secret, json={"result": "已落实医疗救助", "outcome": "relief_granted"})
    assert conforms(client, done, "POST", resolve)["status"] == "resolved"
    event = db.session.scalar(
        select(TicketEvent).where(TicketEvent.referral_id == referral.id, TicketEvent.kind == "referral_acknowledged")
    )
    assert event.actor_id == token.service_user_id and event.actor.display_name == f"{token.name} (API)"


def test_concurrent_acknowledgements_one_wins_and_none_is_a_server_error(app, referred, health):
    _token, secret = make_token("referrals", department=health)
    referral = db.session.scalar(select(Referral).where(Referral.department_id == health.id))
    path = f"/api/v1/referrals/{referral.id}/acknowledge"
    start = threading.Barrier(THREADS)
    statuses = []

    def run():
        client = app.test_client()
        start.wait(timeout=30)
        statuses.append(call(client, "POST", path, secret).status_code)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses)[0] == 200 and statuses.count(200) == 1
    assert set(statuses) <= {200, 409, 422}
    db.session.expire_all()
    kind = TicketEvent.kind == "referral_acknowledged"
    assert count(TicketEvent, kind, TicketEvent.referral_id == referral.id) == 1


def test_return_and_extension_requests(client, referred, civil):
    _token, secret = make_token("referrals", department=civil)
    referral = db.session.scalar(select(Referral).where(Referral.department_id == civil.id))
    path = f"/api/v1/referrals/{referral.id}/extension"
    until = (referral.resolve_due_at + timedelta(days=1)).isoformat()
    answer = call(client, "POST", path, secret, json={"reason": "需要等待医院出具证明", "until": until})
    assert conforms(client, answer, "POST", path)["extension_state"] == "requested"
    path = f"/api/v1/referrals/{referral.id}/return"
    answer = call(client, "POST", path, secret, json={"reason": "not_our_remit", "comment": "应由医保局办理"})
    assert conforms(client, answer, "POST", path)["status"] == "return_requested"
    problem(client, call(client, "POST", path, secret, json={"reason": "whim", "comment": "x"}), "POST", path, 422)


def test_another_units_referral_is_404_and_a_unit_above_cannot_act_for_its_village(
    client, referred, make_department, operator, now
):
    township = make_department(code="town", name="城关镇", kind="township", level="township")
    village = make_department(code="village", name="东关社区", kind="village", level="village", parent=township)
    referrals.dispatch_referral(referred, department=village, role="assist", actor=operator, now=now)
    db.session.commit()
    civil_referral = db.session.scalar(select(Referral).where(Referral.role == "lead"))
    village_referral = db.session.scalar(select(Referral).where(Referral.department_id == village.id))
    _token, secret = make_token("referrals", department=township)
    path = f"/api/v1/referrals/{civil_referral.id}/acknowledge"
    problem(client, call(client, "POST", path, secret), "POST", path, 404)
    path = f"/api/v1/referrals/{village_referral.id}/acknowledge"
    problem(client, call(client, "POST", path, secret), "POST", path, 403)
    path = f"/api/v1/referrals/{2**31 - 1}/acknowledge"
    problem(client, call(client, "POST", path, secret), "POST", path, 404)
    assert call(client, "POST", f"/api/v1/referrals/{2**31}/acknowledge", secret).status_code == 404


# --- limits and errors -----------------------------------------------------------------------


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(app, client):
    app.extensions["hotline_api"] = ApiPolicy(
        requests_per_minute=2, default_limit=50, max_limit=200, idempotency_hours=24
    )
    token, secret = make_token("read")
    assert [call(client, "GET", "/api/v1/tickets", secret).status_code for _ in range(2)] == [200, 200]
    response = call(client, "GET", "/api/v1/tickets", secret)
    problem(client, response, "GET", "/api/v1/tickets", 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    _other, other_secret = make_token("read")  # the limit is each token's own
    assert call(client, "GET", "/api/v1/tickets", other_secret).status_code == 200
    assert count(AuditLog, AuditLog.kind == "api_used", AuditLog.target == token.prefix) == 2  # throttled: not a use


def test_the_rate_window_is_one_minute_and_old_minutes_and_keys_are_cleared(app, client):
    token, secret = make_token("intake")
    body = {"source": "partner", "summary": "临时安置"}
    post_ticket(client, secret, body, headers={"Idempotency-Key": "old-key"})
    start = utcnow().replace(second=10, microsecond=0) + timedelta(hours=1)
    keep = timedelta(hours=24)
    assert [count_request(token, now=start, limit=2, keep_keys=keep) for _ in range(3)] == [None, None, 50]
    assert count_request(token, now=start + timedelta(seconds=50), limit=2, keep_keys=keep) is None
    assert count(ApiRateWindow) == 1 and count(ApiIdempotency) == 1
    count_request(token, now=start + timedelta(hours=25), limit=2, keep_keys=keep)
    assert count(ApiIdempotency) == 0  # a day later the key is forgotten: the same request runs anew
    assert post_ticket(client, secret, body, headers={"Idempotency-Key": "old-key"}).status_code == 201


def test_unknown_api_paths_and_methods_answer_problems(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.mimetype == PROBLEM and HAN.search(response.get_json()["detail"])
    response = client.delete("/api/v1/tickets")
    assert response.status_code == 405 and response.mimetype == PROBLEM


def test_a_nul_in_the_query_is_400_and_a_body_too_large_413_both_problems(app, client):
    _token, secret = make_token("read", "intake")
    problem(client, call(client, "GET", "/api/v1/tickets?cursor=%00", secret), "GET", "/api/v1/tickets", 400)
    huge = {**REPORT, "description": "长" * (app.config["MAX_CONTENT_LENGTH"] // 3 + 1)}
    problem(client, call(client, "POST", "/api/v1/tickets", secret, json=huge), "POST", "/api/v1/tickets", 413)
    assert count(Ticket) == 0


def test_the_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/") and r.endpoint != "api.openapi"}
    described = {path for path in document["paths"]}
    assert len(rules) == len(described) == 7
    assert document["components"]["schemas"]["TicketIn"]["properties"]["source"]["enum"] == [
        "12345",
        "grid",
        "monitoring",
        "partner",
        "visit",
    ]


def test_a_malformed_api_policy_stops_the_app(tmp_path, database_url):
    import shutil

    from config.settings import Config
    from hotline import create_app
    from tests.conftest import app_config

    policy = tmp_path / "policy"
    shutil.copytree(Config.POLICY_DIR, policy)
    (policy / "api.toml").write_text(
        "[rate_limit]\nrequests_per_minute = 0\n[pagination]\ndefault_limit=1\nmax_limit=2\n"
    )
    with pytest.raises(ValueError, match="requests_per_minute must be a positive whole number"):
        create_app(app_config(database_url) | {"POLICY_DIR": str(policy)})
