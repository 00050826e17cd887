"""Logging in and out, lockout, CSRF, own password, UI language, and what the audit log keeps of it.

Messages are asserted in English, after switching the UI to English: the
Chinese default depends on translations.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from hotline.auth.service import authenticate
from hotline.extensions import db
from hotline.timeutil import to_local
from models.audit import AuditLog
from models.ticket import Ticket
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.helpers import audit_kinds, count, reload

LOCKED = "locked until"
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


def auth(user, password, now):
    result = authenticate(user.username, password, now=now, max_attempts=5, lock_minutes=15)
    db.session.commit()
    return result


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
    assert (entry.kind, entry.actor_id, entry.payload) == ("login_failed", None, {"reason": "unknown_user"})


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
    assert (entry.kind, entry.actor_id, entry.payload) == ("login_failed", user.id, {"reason": "inactive"})


def test_logged_in_user_visiting_login_goes_to_their_start_page(client, logged_in, operator):
    logged_in(operator)
    response = client.get("/login")
    assert response.status_code == 302 and response.location == "/"


# --- lockout -------------------------------------------------------------------------------


def test_fifth_wrong_password_locks_the_account_for_15_minutes(client, operator):
    english(client)
    for _ in range(4):
        assert LOCKED not in login(client, "op_zhang", "wrong").get_data(as_text=True)
    before = datetime.now(UTC)
    response = login(client, "op_zhang", "wrong")
    after = datetime.now(UTC)
    html = response.get_data(as_text=True)
    assert response.status_code == 401 and LOCKED in html
    locked_until = reload(operator).locked_until
    assert before + timedelta(minutes=15) <= locked_until <= after + timedelta(minutes=15)
    assert to_local(locked_until).strftime("%H:%M") in html  # the time is shown in Asia/Shanghai


def test_locked_account_refuses_even_the_right_password(client, operator):
    operator.locked_until = datetime.now(UTC) + timedelta(minutes=10)
    db.session.commit()
    english(client)
    response = login(client, "op_zhang", PASSWORD)
    assert response.status_code == 401 and LOCKED in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert audit_kinds("op_zhang") == ["login_refused_locked"]


def test_lock_ends_after_15_minutes(operator, now):
    for _ in range(5):
        assert auth(operator, "wrong", now).user is None
    assert operator.locked_until == now + timedelta(minutes=15)
    refused = auth(operator, PASSWORD, now + timedelta(minutes=14, seconds=59))
    assert refused.user is None and refused.locked_until == now + timedelta(minutes=15)
    assert auth(operator, PASSWORD, now + timedelta(minutes=15)).user == operator
    assert operator.locked_until is None and operator.failed_logins == 0


def test_a_successful_login_starts_the_failure_count_again(operator, now):
    for _ in range(4):
        auth(operator, "wrong", now)
    assert auth(operator, PASSWORD, now).user == operator
    for _ in range(4):
        auth(operator, "wrong", now)
    assert operator.locked_until is None and operator.failed_logins == 4


def test_every_login_outcome_is_audited(operator, now):
    auth(operator, PASSWORD, now)
    for _ in range(5):
        auth(operator, "wrong", now)
    auth(operator, PASSWORD, now + timedelta(minutes=1))
    assert audit_kinds("op_zhang") == ["login"] + ["login_failed"] * 4 + ["account_locked", "login_refused_locked"]
    entries = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert {e.actor_id for e in entries} == {operator.id}
    assert entries[1].payload == {"reason": "password"} and entries[5].payload == {"minutes": 15}


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
