"""Logging in and out, throttling, CSRF, own password, UI language, and what the audit log keeps of it.

Messages are asserted in English, after switching the UI to English: the
Chinese default depends on translations.
"""

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from hotline import create_app
from hotline.auth.service import Throttle, authenticate, is_throttled
from hotline.extensions import db
from hotline.timeutil import utcnow
from models.audit import AuditLog
from models.ticket import Ticket
from tests.conftest import PASSWORD, app_config, csrf_token, login, post_form
from tests.helpers import audit_kinds, count, reload

WRONG = "Wrong username or password."


def switch_language(client, locale: str, page: str = "/login", **extra):
    return post_form(client, "/language", {"locale": locale, **extra}, page=page)


def english(client, page: str = "/login"):
    assert switch_language(client, "en", page).status_code == 302
    return client


def html_lang(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def is_logged_in(client) -> bool:
    response = client.get("/account/password")
    return response.status_code == 200


def auth(user, password, now, *, client="192.0.2.1", username=None):
    result = authenticate(username or user.username, password, client=client, now=now, throttle=THROTTLE)
    db.session.commit()
    return result


def login_from(client, username, password, remote_addr):
    """Log in as a browser at ``remote_addr`` would."""
    token = csrf_token(client, "/login")
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": remote_addr})


def flash_text(response) -> str:
    html = response.get_data(as_text=True)
    return html.split('class="flash flash-danger" role="alert">', 1)[1].split("</div>", 1)[0]


def audit_payloads(target: str) -> list[dict]:
    stmt = select(AuditLog.payload).where(AuditLog.target == target).order_by(AuditLog.id)
    return list(db.session.scalars(stmt))


# --- logging in ----------------------------------------------------------------------------


def test_right_username_and_password_open_the_desk(client, operator):
    response = login(client, "op_zhang")
    assert response.status_code == 302 and response.location == "/"
    desk = client.get("/desk")
    assert desk.status_code == 200
    assert "张晓红" in desk.get_data(as_text=True)
    assert reload(operator).last_login_at is not None


def test_username_is_matched_after_trimming_spaces(client, operator):
    assert login(client, "  op_zhang ").status_code == 302


def test_wrong_password_is_refused_with_a_message_and_the_username_kept(client, operator):
    english(client)
    response = login(client, "op_zhang", "wrong-password")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert WRONG in html and 'class="flash flash-danger"' in html
    assert 'value="op_zhang"' in html and "wrong-password" not in html
    assert not is_logged_in(client)
    assert reload(operator).failed_logins == 1


def test_unknown_username_gets_the_same_message_as_a_wrong_password(client, operator):
    english(client)
    response = login(client, "nobody", PASSWORD)
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.target == "nobody"))
    assert (entry.kind, entry.actor_id, entry.payload["reason"]) == ("login_failed", None, "unknown_user")


def test_empty_login_form_is_a_bad_request(client, operator):
    response = post_form(client, "/login", {"username": "", "password": ""}, page="/login")
    assert response.status_code == 400 and 'class="error"' in response.get_data(as_text=True)
    assert audit_kinds() == []


def test_deactivated_user_cannot_log_in(client, make_user):
    user = make_user("operator", username="gone", active=False)
    english(client)
    response = login(client, "gone")
    assert response.status_code == 401 and "deactivated" in response.get_data(as_text=True)
    assert not is_logged_in(client)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.target == "gone"))
    assert user.active is False
    assert (entry.kind, entry.actor_id, entry.payload["reason"]) == ("login_failed", None, "inactive")


def test_logged_in_user_visiting_login_goes_to_their_start_page(client, logged_in, operator):
    logged_in(operator)
    response = client.get("/login")
    assert response.status_code == 302 and response.location == "/"


# --- throttling: slowed down, never shut out -----------------------------------------------

THROTTLE = Throttle(free_failures=5, max_delay_seconds=60, client_max_failures=20, window_minutes=15)


def test_after_five_wrong_passwords_each_attempt_waits_longer(operator, now):
    for _ in range(4):
        auth(operator, "wrong", now)
    assert operator.locked_until == now  # four failures cost nothing yet
    waits = []
    at = now
    for _ in range(7):
        auth(operator, "wrong", at)
        waits.append((operator.locked_until - at).total_seconds())
        at = operator.locked_until
    assert waits == [2, 4, 8, 16, 32, 60, 60]  # doubling, never past HOTLINE_LOGIN_MAX_DELAY_SECONDS


def test_the_right_password_during_the_wait_is_refused_and_after_it_accepted(operator, now):
    for _ in range(5):
        auth(operator, "wrong", now)
    auth(operator, "wrong", now + timedelta(seconds=2))
    assert operator.locked_until == now + timedelta(seconds=6)
    assert auth(operator, PASSWORD, now + timedelta(seconds=5)).user is None
    assert operator.failed_logins == 6  # an attempt during the wait is not heard, so it does not count
    assert auth(operator, PASSWORD, now + timedelta(seconds=6)).user == operator
    assert operator.locked_until is None and operator.failed_logins == 0


def test_a_stranger_cannot_keep_the_real_user_out_for_more_than_the_longest_delay(operator, now):
    at = now
    for n in range(50):  # strangers at many addresses guessing as fast as the throttle lets them
        auth(operator, "wrong", at, client=f"203.0.113.{n}")
        at = operator.locked_until
    assert operator.locked_until - at <= timedelta(seconds=60)
    assert auth(operator, PASSWORD, at + timedelta(seconds=60), client="192.0.2.10").user == operator


def test_failures_are_forgotten_after_a_quiet_window(operator, now):
    for _ in range(5):
        auth(operator, "wrong", now)
    auth(operator, "wrong", now + timedelta(minutes=16))
    assert operator.failed_logins == 1 and operator.locked_until == now + timedelta(minutes=16)


def test_a_successful_login_starts_the_failure_count_again(operator, now):
    for _ in range(4):
        auth(operator, "wrong", now)
    assert auth(operator, PASSWORD, now).user == operator
    for _ in range(4):
        auth(operator, "wrong", now)
    assert operator.failed_logins == 4 and not is_throttled(operator, now)


def test_a_client_over_its_limit_is_refused_even_with_the_right_password(operator, make_user, now):
    other = make_user("operator", username="op_li")
    for n in range(20):  # spread over many names: no single account is slowed down
        auth(None, "wrong", now, username=f"guess{n}")
    assert auth(operator, PASSWORD, now + timedelta(minutes=1)).user is None
    assert audit_payloads("op_zhang")[-1]["reason"] == "client_limited"
    assert auth(other, PASSWORD, now + timedelta(minutes=1), client="192.0.2.77").user == other  # others are not
    assert auth(operator, PASSWORD, now + timedelta(minutes=15, seconds=1)).user == operator  # the window passed


def test_the_answer_is_the_same_for_unknown_user_wrong_password_throttled_and_limited_client(
    client, app, operator, make_user
):
    english(client)
    answers = {}

    def attempt(label, username, password, remote="192.0.2.1"):
        response = login_from(client, username, password, remote)
        answers[label] = (response.status_code, flash_text(response))

    attempt("unknown user", "nobody", PASSWORD)
    attempt("wrong password", "op_zhang", "wrong")
    for _ in range(5):
        login_from(client, "op_zhang", "wrong", "192.0.2.2")
    attempt("throttled, right password", "op_zhang", PASSWORD, "192.0.2.3")
    for n in range(20):
        login_from(client, f"guess{n}", "wrong", "192.0.2.4")
    attempt("client over its limit, right password", "op_zhang", PASSWORD, "192.0.2.4")
    assert len(set(answers.values())) == 1, answers
    status, text = answers["unknown user"]
    assert status == 401 and text.startswith(WRONG)
    assert not is_logged_in(client)


def test_refusals_are_attempts_on_the_account_not_actions_of_its_owner(client, operator):
    login_from(client, "op_zhang", "wrong", "198.51.100.7")
    login_from(client, "nobody", "wrong", "198.51.100.7")
    entries = db.session.scalars(select(AuditLog).where(AuditLog.kind == "login_failed").order_by(AuditLog.id))
    assert [(e.actor_id, e.target, e.payload) for e in entries] == [
        (None, "op_zhang", {"reason": "password", "failures": 1, "client": "198.51.100.7"}),
        (None, "nobody", {"reason": "unknown_user", "client": "198.51.100.7"}),
    ]
    assert login_from(client, "op_zhang", PASSWORD, "198.51.100.7").status_code == 302
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "login"))
    assert (entry.actor_id, entry.payload) == (operator.id, {"client": "198.51.100.7"})


def test_every_refusal_costs_one_password_hash(operator, now, monkeypatch):
    """The same work for every kind of refusal: the answer time does not tell them apart."""
    import hotline.auth.service as service

    checked = []
    real = service.check_password_hash
    monkeypatch.setattr(service, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    monkeypatch.setattr("models.user.check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    auth(None, "x", now, username="nobody")
    auth(operator, "wrong", now)
    for _ in range(5):
        auth(operator, "wrong", now)
    checked.clear()
    auth(operator, PASSWORD, now)  # throttled
    for n in range(20):
        auth(None, "x", now, username=f"g{n}", client="192.0.2.99")
    auth(operator, PASSWORD, now, client="192.0.2.99")  # client over its limit
    assert len(checked) == 22


def test_the_client_address_comes_from_the_trusted_proxy_only(database_url, _schema, operator):
    """Behind one proxy the address it saw counts; what a client adds in front of it does not."""
    behind_proxy = create_app(app_config(database_url) | {"PROXY_HOPS": 1})
    browser = behind_proxy.test_client()
    forwarded = {"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}  # client-written entry, then the proxy's
    token = csrf_token(browser)
    browser.post("/login", data={"username": "op_zhang", "password": "x", "csrf_token": token}, headers=forwarded)
    direct = create_app(app_config(database_url)).test_client()
    token = csrf_token(direct)
    direct.post("/login", data={"username": "op_zhang", "password": "x", "csrf_token": token}, headers=forwarded)
    assert [p["client"] for p in audit_payloads("op_zhang")] == ["203.0.113.5", "127.0.0.1"]
    for other in (behind_proxy, direct.application):
        with other.app_context():
            db.engine.dispose()


def test_admin_clears_failed_logins_and_it_is_audited(client, app, logged_in, make_user, operator):
    at = utcnow() + timedelta(minutes=5)  # the users page reads the real clock: the wait is still ahead
    for _ in range(7):
        auth(operator, "wrong", at)
        at = max(at, operator.locked_until)  # each attempt once the previous wait is over: all seven count
    admin = make_user("admin", username="admin_wu")
    logged_in(admin)
    english(client, page="/admin/users")
    assert "Logins slowed down" in client.get("/admin/users").get_data(as_text=True)
    page = client.get(f"/admin/users/{operator.id}").get_data(as_text=True)
    assert "7 failed logins on this account" in page
    response = post_form(client, f"/admin/users/{operator.id}/unlock", {}, page=f"/admin/users/{operator.id}")
    assert response.status_code == 302 and response.location == f"/admin/users/{operator.id}"
    assert reload(operator).failed_logins == 0 and operator.locked_until is None
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "login_unlocked"))
    assert (entry.actor_id, entry.target, entry.payload["failures"]) == (admin.id, "op_zhang", 7)
    assert login(app.test_client(), "op_zhang").status_code == 302


def test_only_an_admin_clears_failed_logins(client, logged_in, manager, operator):
    operator.failed_logins = 3
    db.session.commit()
    logged_in(manager)
    response = post_form(client, f"/admin/users/{operator.id}/unlock", {}, page="/desk")
    assert response.status_code == 403 and reload(operator).failed_logins == 3


def test_audit_entries_cannot_be_changed_or_deleted(operator, now):
    auth(operator, PASSWORD, now)
    entry = db.session.scalar(select(AuditLog))
    entry.kind = "nothing"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(entry)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert audit_kinds() == ["login"]


# --- CSRF ----------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused_and_changes_nothing(client, operator):
    response = client.post("/login", data={"username": "op_zhang", "password": "wrong"})
    assert response.status_code == 400
    assert reload(operator).failed_logins == 0 and audit_kinds() == []
    response = client.post("/login", data={"username": "op_zhang", "password": PASSWORD})
    assert response.status_code == 400 and not is_logged_in(client)


def test_csrf_token_of_another_browser_is_refused(client, app, operator):
    other = app.test_client()
    token = csrf_token(other, "/login")
    csrf_token(client, "/login")  # this browser has a session of its own
    response = client.post("/login", data={"username": "op_zhang", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400 and not is_logged_in(client)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/logout", {}),
        ("/account/password", {"current": PASSWORD, "new": "another-secret-9", "confirm": "another-secret-9"}),
        ("/tickets/new", {"category": "other", "priority": "P3", "summary": "来电", "channel": "voice"}),
        ("/language", {"locale": "en"}),
    ],
)
def test_post_without_csrf_token_is_refused_and_changes_nothing(client, logged_in, operator, url, data):
    logged_in(operator)
    password_hash = operator.password_hash
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert is_logged_in(client)
    assert reload(operator).password_hash == password_hash and operator.locale is None
    assert count(Ticket) == 0
    assert html_lang(client, "/desk") == "zh-CN"


# --- logging out ---------------------------------------------------------------------------


def test_logout_ends_the_session(client, logged_in, operator):
    logged_in(operator)
    response = post_form(client, "/logout", {})
    assert response.status_code == 302 and urlsplit(response.location).path == "/login"
    response = client.get("/desk")
    assert response.status_code == 302 and urlsplit(response.location).path == "/login"


def test_logout_needs_a_post(client, logged_in, operator):
    logged_in(operator)
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)


# --- own password --------------------------------------------------------------------------


def change_password(client, current, new, confirm=None):
    data = {"current": current, "new": new, "confirm": new if confirm is None else confirm}
    return post_form(client, "/account/password", data)


@pytest.mark.parametrize(
    ("current", "new", "confirm"),
    [
        ("not-my-password", "another-secret-9", None),
        (PASSWORD, "another-secret-9", "another-secret-8"),
        (PASSWORD, "short", None),
        ("", "another-secret-9", None),
    ],
    ids=["wrong-current", "mismatch", "too-short", "no-current"],
)
def test_refused_password_change_keeps_the_old_password(client, logged_in, operator, current, new, confirm):
    logged_in(operator)
    english(client, page="/account/password")
    response = change_password(client, current, new, confirm)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'class="error"' in html
    assert reload(operator).check_password(PASSWORD)
    assert "password_changed" not in audit_kinds()


def test_wrong_current_password_says_so(client, logged_in, operator):
    logged_in(operator)
    english(client, page="/account/password")
    response = change_password(client, "not-my-password", "another-secret-9")
    assert "The current password is not correct." in response.get_data(as_text=True)


def test_password_change_keeps_this_session_and_ends_the_others(client, app, logged_in, operator):
    other_browser = app.test_client()
    assert login(other_browser, "op_zhang").status_code == 302
    logged_in(operator)
    response = change_password(client, PASSWORD, "another-secret-9")
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(other_browser)
    assert reload(operator).check_password("another-secret-9") and not operator.check_password(PASSWORD)
    assert audit_kinds("op_zhang")[-1] == "password_changed"
    third = app.test_client()
    assert login(third, "op_zhang", PASSWORD).status_code == 401
    assert login(third, "op_zhang", "another-secret-9").status_code == 302


# --- where login sends you -----------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "http:/evil.example",
        "\\\\evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_pointing_off_site_is_ignored(client, operator, target):
    url = "/login?" + urlencode({"next": target})
    token = csrf_token(client, url)
    response = client.post(url, data={"username": "op_zhang", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.location == "/"


def test_backslash_in_next_stays_on_site(client, operator):
    """Browsers read ``/\\host`` as ``//host``; the redirect must not carry a raw backslash."""
    url = "/login?" + urlencode({"next": "/\\evil.example"})
    token = csrf_token(client, url)
    response = client.post(url, data={"username": "op_zhang", "password": PASSWORD, "csrf_token": token})
    location = response.location
    assert "\\" not in location and not location.startswith("//") and not urlsplit(location).netloc


def test_next_on_this_site_is_followed(client, operator):
    url = "/login?" + urlencode({"next": "/tickets/new?phone=13812341234"})
    token = csrf_token(client, url)
    response = client.post(url, data={"username": "op_zhang", "password": PASSWORD, "csrf_token": token})
    assert response.location == "/tickets/new?phone=13812341234"


# --- language ------------------------------------------------------------------------------


def test_language_switches_to_english_and_back(client):
    assert html_lang(client, "/login") == "zh-CN"
    switch_language(client, "en")
    assert html_lang(client, "/login") == "en"
    assert ">Log in<" in client.get("/login").get_data(as_text=True)
    switch_language(client, "zh_CN")
    assert html_lang(client, "/login") == "zh-CN"


def test_unknown_language_is_ignored(client):
    switch_language(client, "fr")
    assert html_lang(client, "/login") == "zh-CN"


def test_users_language_follows_them_to_another_browser(client, app, logged_in, operator):
    logged_in(operator)
    switch_language(client, "en", page="/desk")
    assert reload(operator).locale == "en"
    assert html_lang(client, "/desk") == "en"
    other_browser = app.test_client()
    login(other_browser, "op_zhang")
    assert html_lang(other_browser, "/desk") == "en"


def test_language_switch_returns_to_the_page_but_never_off_site(client):
    assert switch_language(client, "en", next="/login?x=1").location == "/login?x=1"
    assert switch_language(client, "en", next="https://evil.example/").location == "/"
    assert switch_language(client, "en", next="//evil.example/").location == "/"
