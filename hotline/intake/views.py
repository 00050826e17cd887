"""Twilio webhooks: voice, call status, recordings, inbound SMS, SMS delivery status.

Every route checks ``X-Twilio-Signature`` against ``HOTLINE_PUBLIC_BASE_URL``
plus the path (and query) Twilio called, with ``TWILIO_AUTH_TOKEN``: a missing
or wrong signature is a 403 and nothing is written. The blueprint is the
only CSRF-exempt part of the application, and it touches neither the login
session nor templates: Twilio must have its answer within 15 seconds, and the
SMS route is the hot path.

None of them answers 5xx because of the database. Each view's work waits for
the database at most ``HOTLINE_WEBHOOK_DB_WAIT_SECONDS``
(``writelock.bounded``); when the database fails or is still busy then, the
request is written to the spool (``hotline.intake.spool``) and answered from
what needs no database: the SMS reply says the number follows by SMS, a call
gets its greeting and rings the duty roster as last read, or takes a voicemail.
A request of a call or sender with a record still in the spool is spooled too,
behind it, so that the replay (``hotline.intake.replay``) keeps their order.
Each view's writes are a ``store_*`` function the replay runs again with the
request's arrival time.
"""

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import wraps

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from hotline.extensions import db
from hotline.intake import intake, service, twiml
from hotline.intake.policy import Line
from hotline.intake.spool import DATABASE_ERRORS
from hotline.intake.writelock import bounded
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


#: An answer made without the database: the TwiML, and what the replay must know of it (voice steps).
Unstored = tuple[Response, str | None]


def webhook(*required: str, spool_as: str | None, key: Callable | None = None, unstored: Callable | None = None):
    """Check the signature, then that ``required`` form fields are present (SIDs well formed).

    The view receives the parsed form and the arrival time. When the database
    fails it (or a record of the same ``key(form)`` still waits in the spool,
    or another request is already finding out whether the database is back),
    the request is spooled as ``spool_as`` and answered by ``unstored(form,
    args)``. A refused request (403, 400) is never spooled; a view that needs
    no database (``spool_as`` None) is simply called.
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
            now = utcnow()
            if spool_as is None:
                return view(form, now)
            spool = state.spool
            ordering = key(form) or ""
            if spool.holds(ordering):
                return _spooled(spool_as, ordering, form, now, unstored, reason="behind a spooled request")
            wait = current_app.config["WEBHOOK_DB_WAIT_SECONDS"]
            with spool.attempt(every=wait) as database:
                if database == "wait":
                    return _spooled(spool_as, ordering, form, now, unstored, reason="database away")
                try:
                    with bounded(wait):
                        response = view(form, now)
                except DATABASE_ERRORS as exc:
                    _forget_transaction()
                    spool.mark_down()
                    return _spooled(spool_as, ordering, form, now, unstored, reason=f"{type(exc).__name__}: {exc}")
                if database == "probe":
                    spool.mark_up()
                    log.info("the database answers again: this node's web workers (and scheduler) replay the spool")
                return response

        return wrapped

    return decorator


def _forget_transaction() -> None:
    """Drop the session's failed transaction; its connection may be gone with the database."""
    try:
        db.session.rollback()
    except DATABASE_ERRORS as exc:
        log.warning("rollback after a database failure failed too: %s", exc)
    db.session.remove()


def _spooled(endpoint: str, ordering: str, form, now: datetime, unstored, *, reason: str) -> Response:
    """Write the request to the spool, then answer it without the database."""
    response, answer = unstored(form, request.args)
    try:
        intake().spool.write(
            endpoint,
            key=ordering,
            form=form.to_dict(flat=False),
            args=request.args.to_dict(flat=False),
            received_at=now,
            answer=answer,
        )
    except OSError as exc:
        # The caller still gets an answer, but the request is lost (Twilio's own log keeps it): say so loudly.
        log.critical("Twilio %s LOST: neither the database (%s) nor the spool (%s) took it", endpoint, reason, exc)
        return response
    log.warning("Twilio %s spooled (%s)", endpoint, reason[:300])
    return response


def _xml(body: str) -> Response:
    return Response(body, mimetype=XML)


def _url(endpoint: str, **values) -> str:
    """The public URL of one of these webhooks, as Twilio must call (and sign) it."""
    return intake().base_url + url_for(endpoint, **values)


#: Longest call, leg or recording taken at its word; a longer (or negative) duration is stored as unknown.
MAX_DURATION_SECONDS = 24 * 3600
#: Ids and counts in a webhook fit a 64-bit column.
MAX_WEBHOOK_INT = 2**63 - 1


def _int(value: str | None, *, upper: int = MAX_WEBHOOK_INT) -> int | None:
    """A whole number from 0 to ``upper``; None (unknown) when absent, not a number, negative or larger."""
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number <= upper else None


def _duration(value: str | None) -> int | None:
    return _int(value, upper=MAX_DURATION_SECONDS)


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


def _sender(form) -> str:
    return form.get("From") or ""


def store_sms(form, args, now: datetime, answer: str | None = None) -> str:
    """Take in the text message (``service.receive_sms`` commits); return the reply."""
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
    return service.receive_sms(message, now=now, policy=state.policy, turn=state.write_turn)


def _sms_unstored(form, args) -> Unstored:
    """A stop or start word is answered as usual; any other text: received, the number follows by SMS."""
    policy = intake().policy
    word = form.get("Body", "").strip().upper()
    if word in policy.stop_words:
        return _xml(twiml.sms_reply(policy.opted_out)), None
    if word in policy.start_words:
        return _xml(twiml.sms_reply(policy.opted_in)), None
    return _xml(twiml.sms_reply(policy.sms_spooled)), None


@bp.post("/sms")
@webhook("MessageSid", "From", spool_as="sms", key=_sender, unstored=_sms_unstored)
def sms(form, now):
    return _xml(twiml.sms_reply(store_sms(form, request.args, now)))


def store_sms_status(form, args, now: datetime, answer: str | None = None) -> None:
    record_delivery(form["MessageSid"], form["MessageStatus"], error_code=form.get("ErrorCode"), now=now)
    db.session.commit()


def _empty_unstored(form, args) -> Unstored:
    return _xml(twiml.EMPTY), None


@bp.post("/sms/status")
@webhook(
    "MessageSid", "MessageStatus", spool_as="sms_status", key=lambda form: form["MessageSid"], unstored=_empty_unstored
)
def sms_status(form, now):
    store_sms_status(form, request.args, now)
    return _xml(twiml.EMPTY)


# --- voice ---------------------------------------------------------------------------------


def _call(form) -> service.InboundCall:
    return service.InboundCall(
        sid=form["CallSid"], from_number=form.get("From", ""), to_number=form.get("To"), status=form.get("CallStatus")
    )


def _call_key(form) -> str:
    """The call a request belongs to: an operator's leg reports under its parent call."""
    parent = form.get("ParentCallSid")
    return parent if parent and SID_RE.match(parent) else form["CallSid"]


def _put_through(line: Line, index: int, lines) -> Unstored:
    """Dial the operators on duty for ``line`` (``index``: the next one to try in turn), or take a voicemail.

    ``lines``: the roster, from the database or its snapshot. The second value
    says which ("dial" or "voicemail"): a missed call is written only for a voicemail.
    """
    if line.ring == "in_turn":
        lines = lines[index : index + 1]
    if not lines:
        return _voicemail_answer(line), "voicemail"
    following = index + 1 if line.ring == "in_turn" else None
    return (
        _xml(
            twiml.dial(
                intake().policy,
                lines,
                action_url=_url("twilio.voice_dial", line=line.code, next=following),
                status_url=_url("twilio.voice_status"),
                announce=index == 0,
            )
        ),
        "dial",
    )


def _duty_lines() -> list:
    """The roster from the database, kept as the snapshot for calls while the database is away."""
    lines = service.duty_lines()
    intake().spool.save_roster(lines)
    return lines


def _voicemail_answer(line: Line) -> Response:
    policy = intake().policy
    return _xml(
        twiml.voicemail(
            policy,
            priority=line.priority,
            action_url=_url("twilio.voice_voicemail"),
            recording_url=_url("twilio.recording"),
        )
    )


def store_voice(form, args, now: datetime, answer: str | None = None) -> None:
    service.start_call(_call(form), now=now)
    db.session.commit()


def _voice_unstored(form, args) -> Unstored:
    return _xml(twiml.greeting(intake().policy, menu_url=_url("twilio.voice_menu"))), None


@bp.post("/voice")
@webhook("CallSid", "From", spool_as="voice", key=_call_key, unstored=_voice_unstored)
def voice(form, now):
    store_voice(form, request.args, now)
    return _voice_unstored(form, request.args)[0]


def store_voice_menu(form, args, now: datetime, answer: str | None = None) -> None:
    """The caller chose a line; nobody to ring (``answer`` "voicemail"): the call is missed."""
    service.start_call(_call(form), now=now)
    policy = intake().policy
    service.choose_line(form["CallSid"], form.get("Digits"), policy=policy)
    if answer == "voicemail":
        service.mark_missed(form["CallSid"], now=now, policy=policy)
    db.session.commit()


def _menu_unstored(form, args) -> Unstored:
    line = intake().policy.line_for_digit(form.get("Digits"))
    return _put_through(line, 0, list(intake().spool.roster()))


@bp.post("/voice/menu")
@webhook("CallSid", "From", spool_as="voice_menu", key=_call_key, unstored=_menu_unstored)
def voice_menu(form, now):
    line = intake().policy.line_for_digit(form.get("Digits"))
    response, answer = _put_through(line, 0, _duty_lines())
    store_voice_menu(form, request.args, now, answer)
    return response


def _dial_answered(form) -> bool:
    return form.get("DialCallStatus") in ("completed", "answered")


def store_voice_dial(form, args, now: datetime, answer: str | None = None) -> None:
    """The Dial ended: answered (someone talked), or nobody did and the call went to voicemail."""
    sid = form["CallSid"]
    if _dial_answered(form):
        talked = _duration(form.get("DialCallDuration")) or 0
        service.dial_completed(sid, at=now - timedelta(seconds=talked))
    elif answer == "voicemail":
        service.mark_missed(sid, now=now, policy=intake().policy)
    db.session.commit()


def _dial_next(form, args, lines_of: Callable[[], list]) -> Unstored:
    """Hang up after an answered Dial; else try the next operator in turn, or take a voicemail."""
    if _dial_answered(form):
        return _xml(twiml.hangup()), "answered"
    line = intake().policy.line(args.get("line"))
    following = _int(args.get("next"))
    if line.ring == "in_turn" and following:
        return _put_through(line, following, lines_of())
    return _voicemail_answer(line), "voicemail"


def _dial_unstored(form, args) -> Unstored:
    return _dial_next(form, args, lambda: list(intake().spool.roster()))


@bp.post("/voice/dial")
@webhook("CallSid", spool_as="voice_dial", key=_call_key, unstored=_dial_unstored)
def voice_dial(form, now):
    response, answer = _dial_next(form, request.args, _duty_lines)
    store_voice_dial(form, request.args, now, answer)
    return response


@bp.post("/voice/voicemail")
@webhook("CallSid", spool_as=None)
def voice_voicemail(form, now):
    """The caller finished their message (the recording itself arrives at /twilio/recording)."""
    return _xml(twiml.goodbye(intake().policy))


def store_voice_status(form, args, now: datetime, answer: str | None = None) -> None:
    """Status of the call, or of an operator's leg of it (``ParentCallSid``, duty line in the query)."""
    at = _timestamp(form.get("Timestamp"), now)
    status = form["CallStatus"]
    parent = form.get("ParentCallSid")
    if parent:
        if SID_RE.match(parent):
            service.leg_status(parent, status, duty_line_id=_int(args.get("duty")), at=at)
    else:
        sid = form["CallSid"]
        if service.find_call(sid) is None and form.get("From"):
            service.start_call(_call(form), now=now)
        call = service.call_status(sid, status, at=at, duration=_duration(form.get("CallDuration")))
        if call is not None and status in service.CALL_ENDED and call.answered_at is None:
            service.mark_missed(sid, now=now, policy=intake().policy)
    db.session.commit()


@bp.post("/voice/status")
@webhook("CallSid", "CallStatus", spool_as="voice_status", key=_call_key, unstored=_empty_unstored)
def voice_status(form, now):
    store_voice_status(form, request.args, now)
    return _xml(twiml.EMPTY)


def store_recording(form, args, now: datetime, answer: str | None = None) -> None:
    if form.get("RecordingStatus", "completed") == "completed":
        service.attach_recording(
            form["CallSid"],
            recording_sid=form["RecordingSid"],
            url=form["RecordingUrl"],
            seconds=_duration(form.get("RecordingDuration")),
            now=now,
        )
        db.session.commit()


@bp.post("/recording")
@webhook("CallSid", "RecordingSid", "RecordingUrl", spool_as="recording", key=_call_key, unstored=_empty_unstored)
def recording(form, now):
    store_recording(form, request.args, now)
    return _xml(twiml.EMPTY)


#: What the replay runs for each spooled endpoint: the view's writes, called with the request's form and
#: query (as MultiDicts) and its arrival time; and the form fields the webhook required.
STORES: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "sms": (store_sms, ("MessageSid", "From")),
    "sms_status": (store_sms_status, ("MessageSid", "MessageStatus")),
    "voice": (store_voice, ("CallSid", "From")),
    "voice_menu": (store_voice_menu, ("CallSid", "From")),
    "voice_dial": (store_voice_dial, ("CallSid",)),
    "voice_status": (store_voice_status, ("CallSid", "CallStatus")),
    "recording": (store_recording, ("CallSid", "RecordingSid", "RecordingUrl")),
}
