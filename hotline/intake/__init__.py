"""Calls and text messages reaching the hotline's Twilio number become Interactions and tickets.

``init_intake(app)`` loads the intake policy, builds the webhook signature
validator once, and registers the Twilio webhooks (the only CSRF-exempt
routes), the desk's live panel, the SMS answer and the duty roster pages.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from flask.sessions import SecureCookieSessionInterface
from twilio.request_validator import RequestValidator, compare

from hotline.extensions import csrf
from hotline.intake.policy import IntakePolicy, load_intake_policy
from hotline.intake.spool import Spool
from hotline.intake.writelock import WriteTurn, sqlite_path


class Validator(RequestValidator):
    """Twilio's validator, trying the URL as Twilio called it before the library's two spellings of it.

    The library computes the signature for the URL with and without its port, every time; the
    URL as called is one of those two, and the one that matches for nearly every request, so it
    goes first and the library's check runs only when it does not match (or the body is signed
    by hash), with the same verdict as before. One HMAC per webhook instead of two.
    """

    def validate(self, uri, params, signature, algorithm=None):
        if "bodySHA256" not in uri and compare(self.compute_signature(uri, params or {}, algorithm), signature):
            return True
        return super().validate(uri, params, signature, algorithm)


@dataclass(frozen=True)
class Intake:
    """What every webhook needs, made once per application."""

    policy: IntakePolicy
    validator: RequestValidator
    #: ``HOTLINE_PUBLIC_BASE_URL``: Twilio signs the URL it calls, which is this plus the path.
    base_url: str
    #: False when ``TWILIO_AUTH_TOKEN`` is unset and only ``flask hotline simulate`` can sign.
    real_token: bool
    #: Serialises the SMS webhook's short write transactions on SQLite (see ``writelock``).
    write_turn: WriteTurn
    #: Webhook requests the database could not take, waiting for a replay (``hotline.intake.spool``).
    spool: Spool


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, except for Twilio's webhook POSTs: they carry no cookie and get none.

    Twilio never logs in; skipping the session keeps the webhooks (the SMS one
    is the hot path) from building a signer and answering with cookie headers.
    """

    def open_session(self, app, request):
        if request.method == "POST" and request.path.startswith("/twilio/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _webhook_token(app: Flask) -> str:
    """``TWILIO_AUTH_TOKEN``; without one, a random local token kept in the instance folder.

    Real Twilio requests then all fail validation (403), as they must when the
    token is unknown, while ``flask hotline simulate`` (which reads the same
    file) can still sign its requests for the demo.
    """
    if app.config.get("TWILIO_AUTH_TOKEN"):
        return app.config["TWILIO_AUTH_TOKEN"]
    path = Path(app.instance_path) / "twilio_local_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(24))
        path.chmod(0o600)
    return path.read_text().strip()


def init_intake(app: Flask) -> None:
    from hotline.intake.admin import bp as duty_bp
    from hotline.intake.desk import bp as desk_bp
    from hotline.intake.spool_admin import bp as spool_bp
    from hotline.intake.views import bp as twilio_bp

    app.extensions["hotline_intake"] = Intake(
        policy=load_intake_policy(Path(app.config["POLICY_DIR"]) / "intake.toml"),
        validator=Validator(_webhook_token(app)),
        base_url=app.config["PUBLIC_BASE_URL"].rstrip("/"),
        real_token=bool(app.config.get("TWILIO_AUTH_TOKEN")),
        write_turn=WriteTurn(sqlite_path(app.config["SQLALCHEMY_DATABASE_URI"])),
        spool=Spool(Path(app.config.get("SPOOL_DIR") or Path(app.instance_path) / "spool")),
    )
    csrf.exempt(twilio_bp)
    app.session_interface = SessionInterface()
    app.register_blueprint(twilio_bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(duty_bp)
    app.register_blueprint(spool_bp)


def intake() -> Intake:
    """The intake settings of the current application."""
    return current_app.extensions["hotline_intake"]
