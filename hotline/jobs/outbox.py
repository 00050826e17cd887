"""One pass of the SMS outbox sender: reads settings and the clock, builds the Twilio client, runs ``send_due``."""

from flask import Flask
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hotline.notify.service import SendReport, send_due
from hotline.timeutil import utcnow

#: Twilio's REST API, as the twilio library addresses it.
TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's HTTP client sending what is meant for ``https://api.twilio.com`` to ``base`` instead."""

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client(app: Flask, http_client: HttpClient | None = None) -> Client | None:
    """A REST client with the configured credentials and timeout; None without credentials.

    Tests pass a fake ``http_client``; otherwise Twilio's own, with
    ``HOTLINE_TWILIO_TIMEOUT`` seconds for each request, sent to
    ``HOTLINE_TWILIO_API_BASE`` when set (the cluster bench's fake Twilio).
    """
    sid, token = app.config.get("TWILIO_ACCOUNT_SID"), app.config.get("TWILIO_AUTH_TOKEN")
    if not sid or not token:
        return None
    if http_client is None:
        timeout = app.config["TWILIO_TIMEOUT"]
        base = app.config.get("TWILIO_API_BASE")
        http_client = RebasedHttpClient(base, timeout=timeout) if base else TwilioHttpClient(timeout=timeout)
    return Client(sid, token, http_client=http_client)


def lease_seconds(app: Flask) -> int:
    """``HOTLINE_SMS_LEASE_SECONDS``, but never less than twice the Twilio timeout plus 5 s.

    A claim must outlast its sender's Twilio call: another sender retakes it
    only when the first can no longer be waiting for Twilio's answer.
    """
    return max(app.config["SMS_LEASE_SECONDS"], 2 * app.config["TWILIO_TIMEOUT"] + 5)


def claim_batch(app: Flask) -> int:
    """How many messages one claim takes: each may need two Twilio calls (ask, then send) within the lease."""
    return max(1, lease_seconds(app) // (2 * app.config["TWILIO_TIMEOUT"] + 2))


def send_outbox(app: Flask, *, http_client: HttpClient | None = None, limit: int = 100) -> SendReport:
    """One pass of the sender over the due messages, with the application's settings (inside an app context).

    A claim's batch at a time, each with the clock read anew: a batch's lease
    runs from when it was claimed, not from the start of a long pass.
    """
    client, batch = twilio_client(app, http_client), claim_batch(app)
    report = SendReport()
    while True:
        left = limit - sum(len(part) for part in (report.sent, report.retrying, report.failed, report.not_sent))
        if left <= 0:
            break
        part = send_due(
            now=utcnow(),
            client=client,
            from_number=app.config.get("TWILIO_NUMBER"),
            status_callback=app.config["PUBLIC_BASE_URL"].rstrip("/") + "/twilio/sms/status",
            max_attempts=app.config["SMS_MAX_ATTEMPTS"],
            retry_seconds=app.config["SMS_RETRY_SECONDS"],
            limit=min(batch, left),
            lease_seconds=lease_seconds(app),
            batch=batch,
        )
        if not (part.sent or part.retrying or part.failed or part.not_sent):
            break
        for name in ("sent", "retrying", "failed", "not_sent"):
            getattr(report, name).extend(getattr(part, name))
    return report
