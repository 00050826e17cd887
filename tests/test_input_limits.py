"""Out-of-range numbers and dates are a 400 that says what is wrong; Twilio's absurd durations are stored
as unknown; a streamed (chunked) body over the limit is a 413, on a real server."""

import socket
import threading
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from hotline.extensions import db
from models.interaction import Interaction
from models.ticket import Ticket
from tests.helpers import count
from tests.test_auth import english
from tests.test_intake_voice import call, path_of, the_call
from tests.twilio_helpers import BASE, call_form, signature, sms_form, twilio_post

MAX_INT64 = 2**63 - 1
RANGE_MESSAGE = "must be a whole number from 0 to 9223372036854775807"


@pytest.fixture
def as_manager(client, logged_in, manager):
    logged_in(manager)
    return english(client, page="/reports")


@pytest.mark.parametrize(
    "query",
    [
        "range=custom&from=0001-01-01&to=0001-01-02",
        "range=custom&from=9999-12-30&to=9999-12-31",
        "range=custom&from=2025-01-01&to=9999-12-31",
    ],
)
@pytest.mark.parametrize("page", ["/reports", "/reports/times", "/reports/list", "/reports/export/dashboard.csv"])
def test_report_dates_outside_the_covered_years_are_a_400_saying_so(as_manager, page, query):
    response = as_manager.get(f"{page}?{query}")
    assert response.status_code == 400
    assert "Reports cover 2000-01-01 to 2099-12-31." in response.get_data(as_text=True)


def test_a_bucket_outside_the_covered_years_is_a_400(as_manager):
    response = as_manager.get("/reports/list?bucket=0001-01-01&grain=week")
    assert response.status_code == 400 and "Reports cover" in response.get_data(as_text=True)


def test_a_period_that_is_no_period_is_a_400_saying_how_to_give_one(as_manager):
    response = as_manager.get("/reports?range=custom&from=2025-10-09&to=2025-10-01")
    assert response.status_code == 400
    assert "Give the period as two dates (YYYY-MM-DD)" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["unit", "township"])
@pytest.mark.parametrize("value", [str(MAX_INT64 + 1), str(2**64), "-1", "9" * 5000])
def test_a_unit_beyond_64_bits_or_negative_is_a_400_naming_it(as_manager, name, value):
    for page in ("/reports", "/reports/list", "/reports/times"):
        response = as_manager.get(f"{page}?{name}={value}")
        assert response.status_code == 400, page
        assert f"{name} {RANGE_MESSAGE}" in response.get_data(as_text=True)


def test_the_largest_64_bit_unit_is_simply_no_unit(as_manager):
    assert as_manager.get(f"/reports?unit={MAX_INT64}").status_code == 200


@pytest.mark.parametrize("value", [str(2**64), "-5"])
def test_a_call_id_beyond_64_bits_is_a_400_and_writes_nothing(client, logged_in, operator, value):
    logged_in(operator)
    english(client, page="/desk")
    response = client.get(f"/tickets/new?call={value}")
    assert response.status_code == 400 and f"call {RANGE_MESSAGE}" in response.get_data(as_text=True)
    assert count(Ticket) == 0


def test_a_form_id_beyond_64_bits_is_a_400(client, logged_in, make_user):
    admin = make_user("admin", username="admin_wu")
    logged_in(admin)
    english(client, page="/admin/users")
    from tests.conftest import post_form

    data = {"username": "x1", "display_name": "X", "role": "operator", "department_id": str(2**70), "password": ""}
    response = post_form(client, "/admin/users/new", data, page="/admin/users/new")
    assert response.status_code == 400 and f"department_id {RANGE_MESSAGE}" in response.get_data(as_text=True)


# --- Twilio's durations ------------------------------------------------------------------------------


@pytest.mark.parametrize("talked", ["-100000000000", "-1", str(10**12), str(2**70), "86401"])
def test_an_absurd_dial_duration_never_moves_the_answer_time(client, make_user, app, talked):
    from models.duty import DutyLine
    from tests.test_intake_voice import twiml

    user = make_user("operator")
    db.session.add(
        DutyLine(user_id=user.id, label="x", phone="+8613900000001", position=1, on_duty=True, updated_at=db.func.now())
    )
    db.session.commit()
    answer = call(client, digits="1")
    form = call_form(CallStatus="in-progress", DialCallStatus="completed", DialCallDuration=talked)
    before = the_call().started_at
    twiml(twilio_post(client, path_of(answer.find("Dial").get("action")), form))
    answered = the_call().answered_at
    assert answered is not None and before <= answered <= before + timedelta(minutes=1)


@pytest.mark.parametrize("seconds", ["-1", "86401", str(2**70)])
def test_an_absurd_call_or_recording_duration_is_stored_as_unknown(client, seconds):
    call(client, digits="1")
    assert twilio_post(client, "/twilio/voice/status", call_form(CallStatus="completed", CallDuration=seconds))
    recording = {
        **call_form(),
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": seconds,
        "RecordingStatus": "completed",
    }
    assert twilio_post(client, "/twilio/recording", recording).status_code == 200
    recorded = the_call()
    assert (recorded.duration_seconds, recorded.recording_seconds) == (None, None)
    assert recorded.ended_at is not None and recorded.recording_sid == "RE" + "1" * 32


def test_a_day_long_duration_is_still_believed(client):
    call(client, digits="1")
    twilio_post(client, "/twilio/voice/status", call_form(CallStatus="completed", CallDuration="86400"))
    assert the_call().duration_seconds == 86400


# --- streamed bodies -------------------------------------------------------------------------------


@pytest.fixture
def server(app):
    """The app on a real HTTP server on 127.0.0.1 (the test client cannot send a chunked body)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join()


def chunked_post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no length); returns the status and the answer's body."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    chunks = b"".join(
        f"{len(body[i : i + 4096]):x}\r\n".encode() + body[i : i + 4096] + b"\r\n" for i in range(0, len(body), 4096)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + chunks + b"0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head_part, _sep, rest = answer.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head_part.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(rest) < length:
            rest += sock.recv(65536)
    return int(head_part.split(b" ")[1]), rest


def signed_sms(body_text: str) -> tuple[bytes, dict]:
    form = sms_form(body=body_text)
    headers = {
        "X-Twilio-Signature": signature(BASE + "/twilio/sms", form),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return urlencode(form).encode(), headers


def test_a_chunked_webhook_over_the_limit_is_a_413_and_writes_nothing(app, server):
    body, headers = signed_sms("长" * 20_000)
    assert len(body) > app.config["WEBHOOK_MAX_BYTES"]
    status, answer = chunked_post(server, "/twilio/sms", body, headers)
    assert status == 413 and "长" not in answer.decode("utf-8", "replace")
    assert count(Interaction) == 0 and count(Ticket) == 0


def test_a_chunked_webhook_within_the_limit_is_taken(app, server):
    body, headers = signed_sms("我父亲突发脑溢血住院，请帮帮我们")
    status, _answer = chunked_post(server, "/twilio/sms", body, headers)
    assert status == 200
    assert db.session.scalar(select(Interaction.body)) == "我父亲突发脑溢血住院，请帮帮我们"


def test_a_chunked_page_form_over_the_limit_is_a_413(app, server):
    body = b"username=" + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b"&password=x"
    status, _answer = chunked_post(server, "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413
