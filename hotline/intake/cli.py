"""``flask hotline simulate sms|call``.

``simulate`` plays Twilio against the running server: it posts the same
webhooks, signed the same way (the request validator's own signature over the
URL and the form), and follows the TwiML answers (menu, dial, voicemail) as
Twilio would, so the demo shows the whole path without a Twilio account.
"""

import uuid
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen
from xml.etree import ElementTree

import click
from flask import current_app

from hotline.intake import intake

ACCOUNT = "AC" + "0" * 32


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class FakeTwilio:
    """Posts signed webhooks to one server and prints what it answers.

    The signature covers ``HOTLINE_PUBLIC_BASE_URL`` + path, as the server
    checks it (and as Twilio signs the address it calls); the requests go to
    ``server_url``, which is the same address unless the server is reached
    another way (a test's live server).
    """

    def __init__(self, server_url: str | None):
        self.public = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        self.server = (server_url or self.public).rstrip("/")
        self.validator = intake().validator
        self.to = current_app.config.get("TWILIO_NUMBER") or "+8657100012345"

    def post(self, url: str, form: dict) -> ElementTree.Element | None:
        """POST ``form`` to ``url`` (a public URL from TwiML, or a path) and return the TwiML answer."""
        if url.startswith("/"):
            url = self.public + url
        target = self.server + url.removeprefix(self.public) if url.startswith(self.public) else url
        form = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", **form}
        request = Request(  # noqa: S310  (the URL is the hotline's own server)
            target,
            data=urlencode(form).encode(),
            headers={"X-Twilio-Signature": self.validator.compute_signature(url, form)},
            method="POST",
        )
        try:
            with urlopen(request, timeout=10) as response:  # noqa: S310
                status, body = response.status, response.read().decode()
        except HTTPError as exc:
            status, body = exc.code, exc.read().decode(errors="replace")
        except URLError as exc:
            raise click.ClickException(
                f"cannot reach {target}: {exc.reason}. Is the server running (make run)?"
            ) from exc
        path = url.removeprefix(self.public)
        click.echo(f"-> {path} {status}")
        if status >= 300:
            raise click.ClickException(f"the server answered {status}: {body[:200]}")
        if not body.strip():
            return None
        twiml = ElementTree.fromstring(body)  # noqa: S314  (our own server's TwiML)
        for node in twiml.iter():
            if node.tag in ("Say", "Message") and node.text:
                click.echo(f"   {node.tag}: {node.text}")
            elif node.tag in ("Dial", "Record", "Hangup"):
                targets = ", ".join((n.text or "") for n in node if n.tag in ("Number", "Client"))
                click.echo(f"   {node.tag}" + (f": {targets}" if targets else ""))
        return twiml


@click.group("simulate")
def simulate():
    """Post signed Twilio webhooks to the running server, as Twilio would (a demo without an account)."""


@simulate.command("sms")
@click.option("--from", "from_number", required=True, help="The sender's number, e.g. +8613800000000.")
@click.option("--body", required=True, help="The text of the message.")
@click.option("--media", multiple=True, help="A media URL (MMS); may be given several times.")
@click.option("--url", "base_url", help="Where the server runs, if not at HOTLINE_PUBLIC_BASE_URL.")
def simulate_sms(from_number: str, body: str, media: tuple[str, ...], base_url: str | None):
    """An inbound text message."""
    twilio = FakeTwilio(base_url)
    sid = _sid("SM")
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "From": from_number,
        "To": twilio.to,
        "Body": body,
        "NumMedia": str(len(media)),
        "SmsStatus": "received",
    }
    form.update({f"MediaUrl{i}": url for i, url in enumerate(media)})
    twilio.post("/twilio/sms", form)


@simulate.command("call")
@click.option("--from", "from_number", required=True, help="The caller's number, e.g. +8613800000000.")
@click.option("--digit", default="1", show_default=True, help="Menu key: 1 urgent hardship, 2 policy questions.")
@click.option("--answer/--no-answer", default=False, help="The first operator on duty answers (else nobody does).")
@click.option("--seconds", default=90, show_default=True, help="How long the call lasts once answered.")
@click.option("--voicemail/--no-voicemail", default=True, help="Leave a voicemail when nobody answers.")
@click.option("--url", "base_url", help="Where the server runs, if not at HOTLINE_PUBLIC_BASE_URL.")
def simulate_call(from_number, digit, answer, seconds, voicemail, base_url):
    """An inbound call: greeting, menu key, ring the operators on duty, then talk or voicemail."""
    twilio = FakeTwilio(base_url)
    sid = _sid("CA")
    call = {"CallSid": sid, "From": from_number, "To": twilio.to, "Direction": "inbound"}
    twiml = twilio.post("/twilio/voice", {**call, "CallStatus": "ringing"})
    gather = twiml.find("Gather")
    twiml = twilio.post(gather.get("action"), {**call, "CallStatus": "in-progress", "Digits": digit})
    talked, rang = 0, twiml is not None and twiml.find("Dial") is not None
    while twiml is not None and twiml.find("Dial") is not None:
        dial = twiml.find("Dial")
        leg = next(iter(dial), None)
        if answer and leg is not None:
            child = {**call, "CallSid": _sid("CA"), "ParentCallSid": sid, "Direction": "outbound-dial"}
            twilio.post(leg.get("statusCallback"), {**child, "CallStatus": "ringing"})
            twilio.post(leg.get("statusCallback"), {**child, "CallStatus": "in-progress"})
            talked = seconds
            twiml = twilio.post(
                dial.get("action"), {**call, "DialCallStatus": "completed", "DialCallDuration": str(seconds)}
            )
            break
        twiml = twilio.post(dial.get("action"), {**call, "DialCallStatus": "no-answer"})
    record = twiml.find("Record") if twiml is not None else None
    if record is not None and voicemail:
        recording = _sid("RE")
        twilio.post(
            record.get("recordingStatusCallback"),
            {
                **call,
                "RecordingSid": recording,
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording}",
                "RecordingDuration": "12",
                "RecordingStatus": "completed",
            },
        )
        twilio.post(record.get("action"), {**call, "RecordingDuration": "12"})
    twilio.post(
        "/twilio/voice/status", {**call, "CallStatus": "completed", "CallDuration": str(talked + 20 if answer else 35)}
    )
    left = " and left a voicemail" if record is not None and voicemail else ""
    if talked:
        click.echo(f"answered: the first line on duty talked with the caller for {talked} s")
    elif not rang:
        click.echo(
            f"nobody is on the duty roster: the caller heard the voicemail prompt{left}; a missed-call ticket waits"
            " on the desk (put operators on duty at Admin > Duty roster)"
        )
    else:
        click.echo(f"nobody answered: the caller{left or ' hung up'}; a missed-call ticket waits on the desk")
