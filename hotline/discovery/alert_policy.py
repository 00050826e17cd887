"""``config/policy/alerts.toml``: how the monitoring platform's export is read, parsed once at start-up.

A malformed file stops the application with a message naming what is wrong: an unknown field, a required
column without headers, a priority not P0..P3, a category missing from the catalogue, a source missing from
``sources.toml``, a type listed twice.
"""

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from models.ticket import PRIORITIES

#: The fields an alert row has, in the order of the platform's columns.
FIELDS = ("alert_id", "name", "id_number", "phone", "township", "village", "alert_type", "content", "alert_date")


def header_key(text) -> str:
    """A header, a type or a place name as compared: NFKC (full-width made half-width), no spaces at all."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or "")))


@dataclass(frozen=True)
class AlertType:
    priority: str
    category: str


@dataclass(frozen=True)
class AlertPolicy:
    source: str
    #: The ticket's summary, ``{type}`` the alert type.
    summary: str
    header_search_rows: int
    batch: int
    max_rows: int
    #: header_key(header) -> field
    headers: dict[str, str]
    #: field -> the platform's own header (the first listed), for messages and the report
    titles: dict[str, str]
    required: tuple[str, ...]
    default: AlertType
    #: header_key(type name) -> its priority and category
    types: dict[str, AlertType]

    def summary_of(self, alert_type: str | None) -> str:
        """The summary of a ticket opened by an alert of ``alert_type``."""
        if not alert_type:
            return self.summary.replace("{type}", "").rstrip("：: ") or "监测预警"
        return self.summary.replace("{type}", alert_type)[:200]

    def type_of(self, name: str | None) -> AlertType:
        """The priority and category of an alert type; the default for a type not listed (or none)."""
        return self.types.get(header_key(name), self.default)


def load_alert_policy(path: Path, *, categories, source_codes) -> AlertPolicy:
    """Parse ``alerts.toml``; ``ValueError`` naming the problem when it is malformed."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    settings = data.get("import", {})
    source = settings.get("source", "monitoring")
    if source not in source_codes:
        raise ValueError(f"alerts.toml: source {source!r} is not a code of sources.toml")
    headers: dict[str, str] = {}
    titles: dict[str, str] = {}
    for name, listed in data.get("columns", {}).items():
        if name not in FIELDS:
            raise ValueError(f"alerts.toml: unknown column field {name!r} (known: {', '.join(FIELDS)})")
        if not listed or not all(isinstance(h, str) and header_key(h) for h in listed):
            raise ValueError(f"alerts.toml: columns.{name} must list at least one header")
        titles[name] = listed[0]
        for header in listed:
            if headers.setdefault(header_key(header), name) != name:
                raise ValueError(f"alerts.toml: header {header!r} is given to two fields")
    required = tuple(data.get("required", {}).get("columns", ("alert_id", "name", "township")))
    for name in required:
        if name not in titles:
            raise ValueError(f"alerts.toml: required column {name!r} has no headers in [columns]")

    def alert_type(item, where) -> AlertType:
        priority, category = item.get("priority"), item.get("category")
        if priority not in PRIORITIES:
            raise ValueError(f"alerts.toml: {where}: priority must be one of {', '.join(PRIORITIES)}")
        if categories.get(category) is None:
            raise ValueError(f"alerts.toml: {where}: category {category!r} is not in catalogue.toml")
        return AlertType(priority, category)

    types: dict[str, AlertType] = {}
    for item in data.get("type", []):
        key = header_key(item.get("name"))
        if not key or key in types:
            raise ValueError(f"alerts.toml: type {item.get('name')!r} is empty or listed twice")
        types[key] = alert_type(item, f"type {item['name']}")
    numbers = {k: settings.get(k, d) for k, d in (("header_search_rows", 10), ("batch", 200), ("max_rows", 20000))}
    for key, value in numbers.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"alerts.toml: import.{key} must be a whole number above 0")
    summary = settings.get("summary", "监测预警：{type}")
    if not isinstance(summary, str) or "{type}" not in summary or len(summary) > 100:
        raise ValueError("alerts.toml: import.summary must be a text of at most 100 characters with {type}")
    return AlertPolicy(
        source=source,
        summary=summary,
        headers=headers,
        titles=titles,
        required=required,
        default=alert_type(data.get("default", {}), "default"),
        types=types,
        **numbers,
    )


def alert_policy() -> AlertPolicy:
    """The alert import's policy of the current application."""
    return current_app.extensions["hotline_policy"]["alerts"]
