"""Signing Twilio webhooks in tests exactly as Twilio does, and a fake HTTP client for the REST API."""

import json
from email.utils import format_datetime
from urllib.parse import urlencode

from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

from config.settings import TestConfig

TOKEN = TestConfig.TWILIO_AUTH_TOKEN
BASE = TestConfig.PUBLIC_BASE_URL
CALLER = "+8613812341234"
HOTLINE = "+8657100012345"


def signature(url: str, form: dict, token: str = TOKEN) -> str:
    """``X-Twilio-Signature`` for a POST of ``form`` to ``url``: what Twilio computes."""
    return RequestValidator(token).compute_signature(url, form)


def twilio_post(client, path: str, form: dict, *, token: str = TOKEN, signed_url: str | None = None, headers=None):
    """POST ``form`` to ``path`` (may carry a query) signed over ``BASE + path`` (or ``signed_url``)."""
    url = signed_url or BASE + path
    sent = {"X-Twilio-Signature": signature(url, form, token), **(headers or {})}
    return client.post(path, data=urlencode(form), content_type="application/x-www-form-urlencoded", headers=sent)


def sms_form(sid: str = "SM" + "1" * 32, sender: str = CALLER, body: str = "我父亲突发脑溢血住院，请帮帮我们", **extra):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": HOTLINE,
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def call_form(sid: str = "CA" + "1" * 32, caller: str = CALLER, **extra) -> dict:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": HOTLINE,
        "Direction": "inbound",
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
        **extra,
    }


class FakeHttp(HttpClient):
    """Twilio's REST API as scripted answers: each item is (status, json dict) or an exception to raise."""

    def __init__(self, *answers):
        super().__init__(logger=None, is_async=False, timeout=None)
        self.answers = list(answers)
        self.requests: list[dict] = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kwargs):
        self.requests.append({"method": method, "url": url, "params": params, "data": data, "auth": auth})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        status, payload = answer
        return Response(status, json.dumps(payload))


def message_created(sid: str = "SM" + "9" * 32, status: str = "queued") -> tuple[int, dict]:
    return 201, {"sid": sid, "status": status, "account_sid": "AC" + "0" * 32, "body": "", "to": CALLER}


def messages_listed(*messages: dict) -> tuple[int, dict]:
    """Twilio's answer to a list of messages: each given as its sid, body and created (a datetime)."""
    return 200, {
        "messages": [
            {
                "sid": m["sid"],
                "body": m["body"],
                "to": CALLER,
                "from": HOTLINE,
                "status": "sent",
                "date_created": format_datetime(m["created"], usegmt=True),
            }
            for m in messages
        ],
        "next_page_uri": None,
        "page": 0,
        "page_size": 50,
        "uri": "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json",
    }
