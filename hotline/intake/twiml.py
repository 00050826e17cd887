"""TwiML answers: what the caller hears and what the texter reads.

Voice answers are built with Twilio's ``VoiceResponse``; the SMS answer is on
the hot path and is one escaped string in a fixed template.
"""

from xml.sax.saxutils import escape

from twilio.twiml.voice_response import VoiceResponse

from hotline.intake.policy import IntakePolicy
from models.duty import DutyLine

_SMS = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>'
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
#: Events of an operator's leg reported to /twilio/voice/status.
LEG_EVENTS = "ringing answered completed"


def sms_reply(text: str) -> str:
    """``<Message>`` with ``text``, or an empty answer when there is nothing to say."""
    return _SMS.format(escape(text)) if text else EMPTY


def _say(node, text: str, policy: IntakePolicy) -> None:
    if policy.voice:
        node.say(text, language=policy.language, voice=policy.voice)
    else:
        node.say(text, language=policy.language)


def greeting(policy: IntakePolicy, *, menu_url: str) -> str:
    """Greeting and menu; no key (or any key but the listed ones) goes to the first line."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=menu_url, method="POST", timeout=policy.menu_timeout_seconds)
    _say(gather, policy.greeting, policy)
    _say(gather, policy.menu, policy)
    response.redirect(menu_url, method="POST")
    return str(response)


def dial(policy: IntakePolicy, lines: list[DutyLine], *, action_url: str, status_url: str, announce: bool) -> str:
    """Ring ``lines`` at once (one line: in turn) for the policy's ring time; the Dial's end goes to ``action_url``.

    Each leg reports ringing/answered/completed to ``status_url`` with its duty line, so the
    call knows which operator took it.
    """
    response = VoiceResponse()
    if announce:
        _say(response, policy.connecting, policy)
    dial_verb = response.dial(timeout=policy.dial_timeout_seconds, action=action_url, method="POST")
    for line in lines:
        callback = {
            "status_callback": f"{status_url}?duty={line.id}",
            "status_callback_event": LEG_EVENTS,
            "status_callback_method": "POST",
        }
        if line.phone:
            dial_verb.number(line.phone, **callback)
        else:
            dial_verb.client(identity=line.client_identity, **callback)
    return str(response)


def voicemail(policy: IntakePolicy, *, priority: str, action_url: str, recording_url: str) -> str:
    """Nobody can answer: say a call-back will come, and take a message."""
    response = VoiceResponse()
    _say(response, policy.no_answer.format(within=policy.within(priority)), policy)
    response.record(
        max_length=policy.voicemail_seconds,
        play_beep=True,
        action=action_url,
        method="POST",
        recording_status_callback=recording_url,
        recording_status_callback_event="completed",
        recording_status_callback_method="POST",
    )
    _say(response, policy.goodbye, policy)
    response.hangup()
    return str(response)


def goodbye(policy: IntakePolicy) -> str:
    response = VoiceResponse()
    _say(response, policy.goodbye, policy)
    response.hangup()
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
