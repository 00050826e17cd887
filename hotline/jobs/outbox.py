"""One pass of the SMS outbox sender: reads settings and the clock, builds the Twilio client, runs ``send_due``."""

from flask import Flask
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hotline.notify.service import SendReport, send_due
from hotline.timeutil import utcnow


def twilio_client(app: Flask, http_client: HttpClient | None = None) -> Client | None:
    """A REST client with the configured credentials and timeout; None without credentials.

    Tests pass a fake ``http_client``; otherwise Twilio's own, with
    ``HOTLINE_TWILIO_TIMEOUT`` seconds for each request.
    """
    sid, token = app.config.get("TWILIO_ACCOUNT_SID"), app.config.get("TWILIO_AUTH_TOKEN")
    if not sid or not token:
        return None
    return Client(sid, token, http_client=http_client or TwilioHttpClient(timeout=app.config["TWILIO_TIMEOUT"]))


def send_outbox(app: Flask, *, http_client: HttpClient | None = None, limit: int = 100) -> SendReport:
    """One pass of the sender over the due messages, with the application's settings (inside an app context)."""
    return send_due(
        now=utcnow(),
        client=twilio_client(app, http_client),
        from_number=app.config.get("TWILIO_NUMBER"),
        status_callback=app.config["PUBLIC_BASE_URL"].rstrip("/") + "/twilio/sms/status",
        max_attempts=app.config["SMS_MAX_ATTEMPTS"],
        retry_seconds=app.config["SMS_RETRY_SECONDS"],
        limit=limit,
    )
