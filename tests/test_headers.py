"""Response headers: HSTS behind secure cookies, nothing but static files cached, one charset on CSV."""

import os
import subprocess
import sys

import pytest

from tests.conftest import login
from tests.helpers import PHONE, log_call

STATIC = "/static/favicon.svg"


def _simple_get_routes(app) -> list[str]:
    """Every GET route without a path argument (the static ones aside)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.endpoint.endswith("static")
    )


def test_no_hsts_without_secure_cookies(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_on_every_answer_with_secure_cookies(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    for url in ("/login", STATIC, "/healthz", "/no-such-page"):
        assert client.get(url).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", url


def test_hsts_follows_the_environment_variable(database_url, _schema):
    """``HOTLINE_SECURE_COOKIES=1`` in the environment of a fresh process turns HSTS on."""
    script = (
        "from hotline import create_app\n"
        "r = create_app().test_client().get('/login', base_url='https://localhost')\n"
        "print(r.headers.get('Strict-Transport-Security'))\n"
    )
    env = {**os.environ, "HOTLINE_DATABASE_URL": database_url}
    for flag, expected in (("1", "max-age=31536000; includeSubDomains"), ("0", "None")):
        env["HOTLINE_SECURE_COOKIES"] = flag
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.strip().splitlines()[-1] == expected


def test_static_files_may_be_cached(client):
    response = client.get(STATIC)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_anonymous_pages_and_json_are_not_stored(client):
    for url in ("/login", "/healthz", "/no-such-page"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url


@pytest.mark.parametrize("role", ["operator", "manager", "admin"])
def test_every_page_of_a_logged_in_user_is_not_stored(app, make_user, role):
    client = app.test_client()
    user = make_user(role)
    assert login(client, user.username).status_code == 302
    checked = 0
    for url in _simple_get_routes(app):
        if url == "/logout":
            continue
        response = client.get(url)
        assert response.headers.get("Cache-Control") == "no-store", (url, response.status_code)
        checked += 1
    assert checked > 20


def test_personal_data_is_not_stored(app, client, logged_in, operator, manager, now):
    ticket = log_call(operator, now, caller_name="王秀英")
    logged_in(operator)
    lookup = client.get(f"/tickets/lookup?phone={PHONE}")
    assert lookup.status_code == 200 and lookup.is_json
    assert lookup.json["contact"]["name"] == "王秀英"  # the caller's name: the reason this must not be cached
    for response in (lookup, client.get(f"/tickets/{ticket.number}"), client.get("/desk")):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_not_stored_and_csv_names_its_charset_once(app, manager, fmt):
    client = app.test_client()
    assert login(client, manager.username).status_code == 302
    response = client.get(f"/reports/export/list.{fmt}?pop=tickets&set=all&range=today")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    content_type = response.headers["Content-Type"]
    if fmt == "csv":
        assert content_type == "text/csv; charset=utf-8"
    else:
        assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content_type.count("charset") <= 1


def test_views_and_hooks_are_called_as_flask_calls_them(app):
    """The application remembers that a view or hook is a plain function (``HotlineFlask.ensure_sync``): it is
    called as is, every time; a coroutine function still gets Flask's own answer (here, without the ``async``
    extra installed, the error saying so)."""

    def view():
        return "plain"

    async def coroutine_view():
        return "async"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine_view)


def test_every_answer_says_nosniff_no_frames_and_same_origin_once(client):
    """A page, JSON, a static file, an error and the SMS webhook's answer: each hardening header once; pages
    also carry the content security policy."""
    from tests.twilio_helpers import sms_form, twilio_post

    answers = [client.get(url) for url in ("/login", "/healthz", STATIC, "/no-such-page")]
    answers.append(twilio_post(client, "/twilio/sms", sms_form()))
    for response in answers:
        assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"], response.request.path
        assert response.headers.get_all("X-Frame-Options") == ["DENY"]
        assert response.headers.get_all("Referrer-Policy") == ["same-origin"]
        assert len(response.headers.get_all("Cache-Control")) == 1
    assert answers[0].headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Content-Security-Policy" not in answers[-1].headers  # TwiML, not a page
