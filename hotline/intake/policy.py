"""Intake policy from ``config/policy/intake.toml``: menu, spoken and texted words, callback times.

Parsed once when the application starts; a malformed file fails then, not at
the first call. Texts are Chinese because callers hear or read them.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from models.ticket import PRIORITIES

RING_MODES = ("all", "in_turn")


@dataclass(frozen=True)
class Line:
    """One choice of the voice menu."""

    code: str
    digit: str
    priority: str
    #: "all": every operator on duty rings at once; "in_turn": one after another.
    ring: str
    #: Summary of the ticket opened when nobody answers a call on this line.
    missed_summary: str


@dataclass(frozen=True)
class IntakePolicy:
    callback_minutes: dict[str, int]
    default_callback_minutes: int
    language: str
    voice: str
    greeting: str
    menu: str
    menu_timeout_seconds: int
    connecting: str
    dial_timeout_seconds: int
    no_answer: str
    voicemail_seconds: int
    goodbye: str
    lines: tuple[Line, ...]
    sms_new_ticket: str
    sms_open_ticket: str
    #: The answer to a text triaged P0: where to call at once.
    sms_danger: str
    #: Texted to the on-duty phones when a text is triaged P0 or P1.
    duty_alert: str
    #: Answer to a message spooled while the database was away (its number follows by SMS).
    sms_spooled: str
    stop_words: frozenset[str]
    opted_out: str
    start_words: frozenset[str]
    opted_in: str

    def minutes_to_callback(self, priority: str) -> int:
        """How soon a caller of this priority must be contacted back."""
        return self.callback_minutes.get(priority, self.default_callback_minutes)

    def within(self, priority: str) -> str:
        """The callback time as callers read or hear it: 30分钟, 2小时, 1天."""
        minutes = self.minutes_to_callback(priority)
        if minutes % 1440 == 0:
            return f"{minutes // 1440}天"
        if minutes % 60 == 0:
            return f"{minutes // 60}小时"
        return f"{minutes}分钟"

    def line_for_digit(self, digit: str | None) -> Line:
        """The line a key chooses; any other key, or none, chooses the first (urgent) line."""
        for line in self.lines:
            if line.digit == (digit or "").strip():
                return line
        return self.lines[0]

    def line(self, code: str | None) -> Line:
        """The line with ``code``; unknown or empty (caller never chose) is the default line."""
        for line in self.lines:
            if line.code == code:
                return line
        return self.lines[0]


def _words(values) -> frozenset[str]:
    return frozenset(str(v).strip().upper() for v in values)


#: The placeholders each [sms] text may use; anything else stops start-up.
SMS_FIELDS = {
    "new_ticket": ("number", "within"),
    "open_ticket": ("number", "within"),
    "danger": ("number", "within"),
    "duty_alert": ("number", "priority", "category"),
    "spooled": (),
}


def _sms_text(path: Path, sms: dict, key: str) -> str:
    """The [sms] text ``key``, checked to use only its placeholders."""
    fields = SMS_FIELDS[key]
    if not isinstance(sms.get(key), str) or not sms[key].strip():
        raise ValueError(f"{path}: [sms] {key} is missing or empty")
    try:
        sms[key].format(**dict.fromkeys(fields, ""))
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + field + "}" for field in fields)
        raise ValueError(f"{path}: [sms] {key} may only use {allowed} ({exc!r})") from exc
    return sms[key]


def load_intake_policy(path: Path) -> IntakePolicy:
    """Parse and check ``intake.toml``."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    callback = dict(data["callback"])
    default = int(callback.pop("default"))
    voice = data["voice"]
    sms = data["sms"]
    lines = tuple(
        Line(
            code=item["code"],
            digit=str(item["digit"]),
            priority=item["priority"],
            ring=item["ring"],
            missed_summary=item.get("missed_summary", "未接来电"),
        )
        for item in voice["line"]
    )
    if not lines:
        raise ValueError(f"{path}: the voice menu needs at least one [[voice.line]]")
    for line in lines:
        if line.priority not in PRIORITIES or line.ring not in RING_MODES:
            raise ValueError(
                f"{path}: line {line.code}: priority must be one of {PRIORITIES}, ring one of {RING_MODES}"
            )
    for priority in callback:
        if priority not in PRIORITIES:
            raise ValueError(f"{path}: [callback] {priority} is not a priority")
    return IntakePolicy(
        callback_minutes={k: int(v) for k, v in callback.items()},
        default_callback_minutes=default,
        language=voice["language"],
        voice=voice.get("voice", ""),
        greeting=voice["greeting"],
        menu=voice["menu"],
        menu_timeout_seconds=int(voice["menu_timeout_seconds"]),
        connecting=voice["connecting"],
        dial_timeout_seconds=int(voice["dial_timeout_seconds"]),
        no_answer=voice["no_answer"],
        voicemail_seconds=int(voice["voicemail_seconds"]),
        goodbye=voice["goodbye"],
        lines=lines,
        sms_new_ticket=_sms_text(path, sms, "new_ticket"),
        sms_open_ticket=_sms_text(path, sms, "open_ticket"),
        sms_danger=_sms_text(path, sms, "danger"),
        duty_alert=_sms_text(path, sms, "duty_alert"),
        sms_spooled=_sms_text(path, sms, "spooled"),
        stop_words=_words(sms["stop_words"]),
        opted_out=sms["opted_out"],
        start_words=_words(sms.get("start_words", ())),
        opted_in=sms.get("opted_in", ""),
    )
