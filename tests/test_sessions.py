"""Sessions end on the server: every copy of a cookie stops working on logout, a password change,
deactivation and "sign out everywhere"; an idle session ends; no cookie outlives the idle timeout."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotline.extensions import db
from models.audit import AuditLog
from tests.conftest import PASSWORD, login, post_form
from tests.helpers import reload


def copy_of_cookie(app, client):
    """A second browser holding a copy of ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens_desk(client) -> bool:
    response = client.get("/desk")
    if response.status_code == 302:
        assert urlsplit(response.location).path == "/login"
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def stolen(app, client, logged_in, operator):
    """``client`` logged in as the operator, and a copy of its cookie that works for now."""
    logged_in(operator)
    thief = copy_of_cookie(app, client)
    assert opens_desk(thief)
    return thief


def test_a_copied_cookie_no_longer_opens_the_desk_after_logout(client, stolen, operator):
    assert post_form(client, "/logout", {}, page="/desk").status_code == 302
    assert not opens_desk(stolen) and not opens_desk(client)
    assert db.session.scalar(select(AuditLog.kind).order_by(AuditLog.id.desc())) == "logout"


def test_logout_ends_the_users_sessions_on_other_browsers_too(app, client, logged_in, operator):
    other = app.test_client()
    assert login(other, "op_zhang").status_code == 302
    logged_in(operator)
    post_form(client, "/logout", {}, page="/desk")
    assert not opens_desk(other)


def test_a_copied_cookie_no_longer_opens_the_desk_after_a_password_change(client, stolen):
    data = {"current": PASSWORD, "new": "another-secret-9", "confirm": "another-secret-9"}
    assert post_form(client, "/account/password", data).status_code == 302
    assert opens_desk(client)  # the browser that changed it stays in, with a new cookie
    assert not opens_desk(stolen)


def test_a_copied_cookie_no_longer_opens_the_desk_after_deactivation(app, stolen, make_user, operator):
    admin_browser = app.test_client()
    admin = make_user("admin", username="admin_wu")
    assert login(admin_browser, admin.username).status_code == 302
    form = {"display_name": operator.display_name, "role": "operator", "department_id": "0", "password": ""}
    response = post_form(admin_browser, f"/admin/users/{operator.id}", form, page=f"/admin/users/{operator.id}")
    assert response.status_code == 302 and reload(operator).active is False
    assert not opens_desk(stolen)
    operator.active = True  # even when reactivated, the old cookie stays dead
    db.session.commit()
    assert not opens_desk(stolen)


def test_sign_out_everywhere_ends_every_copy_and_is_audited(app, client, stolen, make_user, operator):
    admin_browser = app.test_client()
    admin = make_user("admin", username="admin_wu")
    assert login(admin_browser, admin.username).status_code == 302
    page = f"/admin/users/{operator.id}"
    assert "/sign-out" in admin_browser.get(page).get_data(as_text=True)
    response = post_form(admin_browser, f"/admin/users/{operator.id}/sign-out", {}, page=page)
    assert response.status_code == 302 and response.location == page
    assert not opens_desk(stolen) and not opens_desk(client)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "signed_out"))
    assert (entry.actor_id, entry.target) == (admin.id, "op_zhang")
    assert admin_browser.get("/admin/users").status_code == 200  # the admin's own session goes on
    assert login(client, "op_zhang").status_code == 302 and opens_desk(client)  # a fresh login works


def test_only_an_admin_signs_someone_out(client, logged_in, manager, operator):
    token = operator.session_token
    logged_in(manager)
    response = post_form(client, f"/admin/users/{operator.id}/sign-out", {}, page="/desk")
    assert response.status_code == 403 and reload(operator).session_token == token


def test_an_idle_session_ends_after_the_idle_timeout(app, client, logged_in, operator, monkeypatch):
    start = datetime(2025, 10, 9, 1, 0, tzinfo=UTC)
    clock = {"now": start}
    monkeypatch.setattr("hotline.auth.views.utcnow", lambda: clock["now"])
    logged_in(operator)
    clock["now"] = start + timedelta(minutes=479)
    assert opens_desk(client)  # used: the idle time starts again
    clock["now"] += timedelta(minutes=480)
    assert opens_desk(client)
    thief = copy_of_cookie(app, client)
    clock["now"] += timedelta(minutes=480, seconds=1)
    assert not opens_desk(client) and not opens_desk(thief)


def test_the_idle_timeout_is_a_setting(app, client, logged_in, operator, monkeypatch):
    app.config["SESSION_IDLE_MINUTES"] = 30
    start = datetime(2025, 10, 9, 1, 0, tzinfo=UTC)
    clock = {"now": start}
    monkeypatch.setattr("hotline.auth.views.utcnow", lambda: clock["now"])
    logged_in(operator)
    clock["now"] = start + timedelta(minutes=31)
    assert not opens_desk(client)


def test_no_cookie_outlives_the_idle_timeout(app, client, operator):
    before = datetime.now(UTC)
    response = login(client, "op_zhang")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    expires = datetime.strptime(cookie.split("Expires=", 1)[1].split(";", 1)[0], "%a, %d %b %Y %H:%M:%S GMT")
    lifetime = expires.replace(tzinfo=UTC) - before
    assert timedelta(minutes=479) < lifetime <= timedelta(minutes=481)
    remember = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert all(c.startswith("remember_token=;") for c in remember)  # never set, at most cleared
    assert app.config["REMEMBER_COOKIE_DURATION"] <= timedelta(minutes=480)
