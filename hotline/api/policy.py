"""The partner API's limits from ``config/policy/api.toml``, parsed once at start-up."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app


@dataclass(frozen=True)
class ApiPolicy:
    #: Requests a token may make in one calendar minute before it is answered 429.
    requests_per_minute: int
    #: Items of a ticket list page when the partner names no ``limit``, and the most it may name.
    default_limit: int
    max_limit: int
    #: How long the answer to an ``Idempotency-Key`` is kept: a retry after that runs again.
    idempotency_hours: int


def _positive(data: dict, section: str, key: str, path: Path) -> int:
    value = data.get(section, {}).get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{path.name}: [{section}] {key} must be a positive whole number, not {value!r}")
    return value


def load_api_policy(path: Path) -> ApiPolicy:
    """Parse ``api.toml``; a missing or malformed value stops the application with the file and key named."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    policy = ApiPolicy(
        requests_per_minute=_positive(data, "rate_limit", "requests_per_minute", path),
        default_limit=_positive(data, "pagination", "default_limit", path),
        max_limit=_positive(data, "pagination", "max_limit", path),
        idempotency_hours=_positive(data, "idempotency", "keep_hours", path),
    )
    if policy.default_limit > policy.max_limit:
        raise ValueError(f"{path.name}: [pagination] default_limit is above max_limit")
    return policy


def api_policy() -> ApiPolicy:
    """The API policy of the current application."""
    return current_app.extensions["hotline_api"]
