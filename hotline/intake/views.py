"""Twilio webhooks: voice, call status, recordings, inbound SMS, SMS delivery status.

Every route checks ``X-Twilio-Signature`` against ``HOTLINE_PUBLIC_BASE_URL``
plus the path (and query) Twilio called, with ``TWILIO_AUTH_TOKEN``: a missing
or wrong signature is a 403 and nothing is written. The blueprint is the
only CSRF-exempt part of the application, and it touches neither the login
session nor templates: Twilio must have its answer within 15 seconds, and the
SMS route is the hot path.
"""

import logging
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import wraps

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from hotline.extensions import db
from hotline.intake import intake, service, twiml
from hotline.intake.policy import Line
from hotline.notify.service import record_delivery
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/twilio")

XML = "application/xml"
SID_RE = re.compile(r"^[A-Za-z0-9]{2,64}$")
SIGNATURE_HEADER = "X-Twilio-Signature"


@bp.url_value_preprocessor
def _limit_body(endpoint, values):
    """A Twilio webhook is a few kilobytes; anything larger is refused with 413 before it is read.

    A URL value preprocessor, because those run before every ``before_request``
    function (one of which reads the form for every request).
    """
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]


def _plain_error(exc: HTTPException):
    """Errors answered in plain text: the application's error pages need a session and a template."""
    if exc.code >= 500:
        db.session.rollback()
    return Response(exc.name, status=exc.code, mimetype="text/plain")


# By code: the application's own handlers for these codes would otherwise win over a class handler.
for _code in (400, 403, 404, 405, 413, 500):
    bp.register_error_handler(_code, _plain_error)
bp.register_error_handler(HTTPException, _plain_error)


def _plain(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def webhook(*required: str):
    """Check the signature, then that ``required`` form fields are present (SIDs well formed).

    The view receives the parsed form.
    """

    def decorator(view):
        @wraps(view)
        def wrapped():
            state = intake()
            form = request.form
            query = request.query_string
            url = state.base_url + request.path + ("?" + query.decode("utf-8", "replace") if query else "")
            if not state.validator.validate(url, form, request.headers.get(SIGNATURE_HEADER, "")):
                log.warning(
                    "Twilio webhook refused: signature missing or wrong for %s%s",
                    url,
                    "" if state.real_token else " (TWILIO_AUTH_TOKEN is not set: only `flask hotline simulate` signs)",
                )
                return _plain(403, "signature missing or wrong")
            for name in required:
                value = form.get(name)
                if not value or (name.endswith("Sid") and not SID_RE.match(value)):
                    return _plain(400, f"{name} missing or malformed")
            return view(form)

        return wrapped

    return decorator


def _xml(body: str) -> Response:
    return Response(body, mimetype=XML)


def _url(endpoint: str, **values) -> str:
    """The public URL of one of these webhooks, as Twilio must call (and sign) it."""
    return intake().base_url + url_for(endpoint, **values)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _timestamp(value: str | None, default: datetime) -> datetime:
    """Twilio's ``Timestamp`` (RFC 2822) of a status event; the receipt time when absent or odd."""
    if not value:
        return default
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return parsed if parsed.tzinfo is not None else default


# --- SMS -----------------------------------------------------------------------------------


@bp.post("/sms")
@webhook("MessageSid", "From")
def sms(form):
    count = min(_int(form.get("NumMedia")) or 0, service.MEDIA_MAX)
    media = tuple(url for i in range(count) if (url := form.get(f"MediaUrl{i}")))
    message = service.InboundMessage(
        sid=form["MessageSid"],
        from_number=form["From"],
        to_number=form.get("To"),
        body=form.get("Body", ""),
        media_urls=media,
    )
    state = intake()
    reply = service.receive_sms(message, now=utcnow(), policy=state.policy, turn=state.write_turn)  # commits
    return _xml(twiml.sms_reply(reply))


@bp.post("/sms/status")
@webhook("MessageSid", "MessageStatus")
def sms_status(form):
    record_delivery(form["MessageSid"], form["MessageStatus"], error_code=form.get("ErrorCode"), now=utcnow())
    db.session.commit()
    return _xml(twiml.EMPTY)


# --- voice ---------------------------------------------------------------------------------


def _call(form) -> service.InboundCall:
    return service.InboundCall(
        sid=form["CallSid"], from_number=form.get("From", ""), to_number=form.get("To"), status=form.get("CallStatus")
    )


def _put_through(sid: str, line: Line, index: int, now: datetime) -> Response:
    """Dial the operators on duty for ``line`` (``index``: the next one to try in turn), or take a voicemail."""
    lines = service.duty_lines()
    if line.ring == "in_turn":
        lines = lines[index : index + 1]
    if not lines:
        return _voicemail(sid, line, now)
    db.session.commit()
    following = index + 1 if line.ring == "in_turn" else None
    return _xml(
        twiml.dial(
            intake().policy,
            lines,
            action_url=_url("twilio.voice_dial", line=line.code, next=following),
            status_url=_url("twilio.voice_status"),
            announce=index == 0,
        )
    )


@bp.post("/voice")
@webhook("CallSid", "From")
def voice(form):
    service.start_call(_call(form), now=utcnow())
    db.session.commit()
    return _xml(twiml.greeting(intake().policy, menu_url=_url("twilio.voice_menu")))


@bp.post("/voice/menu")
@webhook("CallSid", "From")
def voice_menu(form):
    now = utcnow()
    service.start_call(_call(form), now=now)
    line = service.choose_line(form["CallSid"], form.get("Digits"), policy=intake().policy)
    return _put_through(form["CallSid"], line, 0, now)


@bp.post("/voice/dial")
@webhook("CallSid")
def voice_dial(form):
    """The Dial ended: answered (hang up), or try the next operator in turn, or take a voicemail."""
    now = utcnow()
    sid = form["CallSid"]
    if form.get("DialCallStatus") in ("completed", "answered"):
        talked = _int(form.get("DialCallDuration")) or 0
        service.dial_completed(sid, at=now - timedelta(seconds=talked))
        db.session.commit()
        return _xml(twiml.hangup())
    line = intake().policy.line(request.args.get("line"))
    following = request.args.get("next", type=int)
    if line.ring == "in_turn" and following:
        return _put_through(sid, line, following, now)
    return _voicemail(sid, line, now)


def _voicemail(sid: str, line: Line, now: datetime) -> Response:
    """Nobody answers: the call is missed (callback deadline) and the caller may leave a message."""
    policy = intake().policy
    service.mark_missed(sid, now=now, policy=policy)
    db.session.commit()
    return _xml(
        twiml.voicemail(
            policy,
            priority=line.priority,
            action_url=_url("twilio.voice_voicemail"),
            recording_url=_url("twilio.recording"),
        )
    )


@bp.post("/voice/voicemail")
@webhook("CallSid")
def voice_voicemail(form):
    """The caller finished their message (the recording itself arrives at /twilio/recording)."""
    return _xml(twiml.goodbye(intake().policy))


@bp.post("/voice/status")
@webhook("CallSid", "CallStatus")
def voice_status(form):
    """Status of the call, or of an operator's leg of it (``ParentCallSid``, duty line in the query)."""
    now = utcnow()
    at = _timestamp(form.get("Timestamp"), now)
    status = form["CallStatus"]
    parent = form.get("ParentCallSid")
    if parent:
        if SID_RE.match(parent):
            service.leg_status(parent, status, duty_line_id=request.args.get("duty", type=int), at=at)
    else:
        sid = form["CallSid"]
        if service.find_call(sid) is None and form.get("From"):
            service.start_call(_call(form), now=now)
        call = service.call_status(sid, status, at=at, duration=_int(form.get("CallDuration")))
        if call is not None and status in service.CALL_ENDED and call.answered_at is None:
            service.mark_missed(sid, now=now, policy=intake().policy)
    db.session.commit()
    return _xml(twiml.EMPTY)


@bp.post("/recording")
@webhook("CallSid", "RecordingSid", "RecordingUrl")
def recording(form):
    if form.get("RecordingStatus", "completed") == "completed":
        service.attach_recording(
            form["CallSid"],
            recording_sid=form["RecordingSid"],
            url=form["RecordingUrl"],
            seconds=_int(form.get("RecordingDuration")),
            now=utcnow(),
        )
        db.session.commit()
    return _xml(twiml.EMPTY)
