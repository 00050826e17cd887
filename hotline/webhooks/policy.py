"""Webhook policy from ``config/policy/webhooks.toml``: the event kinds partners may hear of, and the retries."""

import tomllib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from flask import current_app

from hotline import labels, toml_checks


class WebhookPolicyError(ValueError):
    """``webhooks.toml`` is malformed: the application does not start."""


_table = partial(toml_checks.table, error=WebhookPolicyError)
_only_keys = partial(toml_checks.only_keys, error=WebhookPolicyError)


@dataclass(frozen=True)
class WebhookPolicy:
    #: The ticket event kinds a subscription may send, in the file's order (the admin's checkboxes).
    kinds: tuple[str, ...]
    #: The same, for the check ``add_event`` makes on every event before anything else.
    watched: frozenset[str]
    timeout_seconds: float
    max_attempts: int
    first_retry_seconds: int
    backoff_factor: float
    max_backoff_seconds: int

    def retry_delay(self, attempts: int) -> int:
        """Seconds to wait after the ``attempts``-th failed attempt: exponential, capped."""
        delay = self.first_retry_seconds * self.backoff_factor ** max(attempts - 1, 0)
        return int(min(delay, self.max_backoff_seconds))


def _number(section: dict, key: str, where: str, *, minimum: float, maximum: float, whole: bool = True):
    value = section.get(key)
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not minimum <= value <= maximum:
        kind = "a whole number" if whole else "a number"
        raise WebhookPolicyError(f"{where}: {key} must be {kind} from {minimum} to {maximum}")
    return value


def load_webhook_policy(path: Path) -> WebhookPolicy:
    """Read and check ``webhooks.toml``; every mistake names the file and the key."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WebhookPolicyError(f"{path}: cannot be read as TOML: {exc}") from exc
    where = path.name
    _only_keys(data, {"events", "delivery"}, where)
    events = _table(data, "events", where)
    _only_keys(events, {"kinds"}, f"{where} [events]")
    kinds = events.get("kinds")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise WebhookPolicyError(f"{where} [events]: kinds must be a non-empty list of event kinds")
    unknown = [k for k in kinds if k not in labels.EVENT]
    if unknown:
        raise WebhookPolicyError(f"{where} [events]: unknown event kinds {unknown}")
    if len(set(kinds)) != len(kinds):
        raise WebhookPolicyError(f"{where} [events]: a kind is listed twice")
    delivery = _table(data, "delivery", where)
    keys = {"timeout_seconds", "max_attempts", "first_retry_seconds", "backoff_factor", "max_backoff_seconds"}
    _only_keys(delivery, keys, f"{where} [delivery]")
    at = f"{where} [delivery]"
    policy = WebhookPolicy(
        kinds=tuple(kinds),
        watched=frozenset(kinds),
        timeout_seconds=_number(delivery, "timeout_seconds", at, minimum=1, maximum=60, whole=False),
        max_attempts=_number(delivery, "max_attempts", at, minimum=1, maximum=50),
        first_retry_seconds=_number(delivery, "first_retry_seconds", at, minimum=1, maximum=86400),
        backoff_factor=_number(delivery, "backoff_factor", at, minimum=1, maximum=10, whole=False),
        max_backoff_seconds=_number(delivery, "max_backoff_seconds", at, minimum=1, maximum=7 * 86400),
    )
    if policy.max_backoff_seconds < policy.first_retry_seconds:
        raise WebhookPolicyError(f"{at}: max_backoff_seconds is shorter than first_retry_seconds")
    return policy


def webhook_policy() -> WebhookPolicy:
    """The webhook policy of the current application."""
    return current_app.extensions["hotline_policy"]["webhooks"]
