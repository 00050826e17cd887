"""Policy data from ``config/policy/*.toml``, parsed once per application."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import get_locale

from hotline.discovery.alert_policy import load_alert_policy
from hotline.escalation.sla import init_sla
from hotline.funds.policy import init_funds
from hotline.relief.rules import init_relief_rules
from hotline.triage import init_triage, init_triage_model
from hotline.webhooks.policy import load_webhook_policy


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    priority: str
    lead: str | None
    assists: tuple[str, ...]

    def label(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    zh: str
    en: str

    def label(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


@dataclass
class Catalogue:
    """The dispatch catalogue (派单目录) and the intake checklists."""

    categories: list[Category]
    p0_checklist: list[ChecklistItem]
    p1_checklist: list[ChecklistItem]
    by_code: dict[str, Category] = field(init=False)

    def __post_init__(self):
        self.by_code = {c.code: c for c in self.categories}

    def get(self, code: str) -> Category | None:
        return self.by_code.get(code)


def load_catalogue(path: Path) -> Catalogue:
    """Parse ``catalogue.toml``; a malformed file fails at start-up, not at the first call."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    categories = [
        Category(
            code=c["code"],
            zh=c["zh"],
            en=c["en"],
            priority=c["priority"],
            lead=c.get("lead"),
            assists=tuple(c.get("assists", ())),
        )
        for c in data["category"]
    ]
    checklists = data.get("checklist", {})
    p0 = [ChecklistItem(**item) for item in checklists.get("p0", [])]
    p1 = [ChecklistItem(**item) for item in checklists.get("p1", [])]
    return Catalogue(categories, p0, p1)


@dataclass(frozen=True)
class Source:
    """Where a reported case came from (``sources.toml``): a partner system, the alert import, grid workers."""

    code: str
    zh: str
    en: str
    #: ``proactive`` (主动发现) or ``api``: the channel of the tickets it opens.
    channel: str

    def label(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


SOURCE_CHANNELS = ("proactive", "api")


def load_sources(path: Path) -> dict[str, Source]:
    """Parse ``sources.toml`` into sources by code; a bad channel or a repeated code fails at start-up."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, Source] = {}
    for item in data["source"]:
        source = Source(code=str(item["code"]), zh=item["zh"], en=item["en"], channel=item["channel"])
        if source.channel not in SOURCE_CHANNELS:
            raise ValueError(f"sources.toml: {source.code}: channel must be one of {SOURCE_CHANNELS}")
        if source.code in out or not source.code or len(source.code) > 16:
            raise ValueError(f"sources.toml: source code {source.code!r} is repeated, empty or over 16 characters")
        out[source.code] = source
    return out


def sources() -> dict[str, Source]:
    """The case sources of the current application, by code."""
    return current_app.extensions["hotline_policy"]["sources"]


def source_label(code: str | None) -> str:
    """A source's name in the current UI language; unknown codes are shown as stored."""
    source = sources().get(code or "")
    if source is None:
        return code or ""
    return source.label(str(get_locale() or "zh_CN"))


def catalogue() -> Catalogue:
    """The catalogue of the current application."""
    return current_app.extensions["hotline_policy"]["catalogue"]


def init_policy(app) -> None:
    policy_dir = Path(app.config["POLICY_DIR"])
    app.extensions["hotline_policy"] = {
        "catalogue": load_catalogue(policy_dir / "catalogue.toml"),
        "sources": load_sources(policy_dir / "sources.toml"),
        "webhooks": load_webhook_policy(policy_dir / "webhooks.toml"),
    }
    init_sla(app)
    init_funds(app)
    init_relief_rules(app)
    init_triage(app)
    init_triage_model(app)
    app.extensions["hotline_policy"]["alerts"] = load_alert_policy(
        policy_dir / "alerts.toml",
        categories=app.extensions["hotline_policy"]["catalogue"],
        source_codes=app.extensions["hotline_policy"]["sources"],
    )


def category_label(code: str | None) -> str:
    """The category's name in the current UI language; unknown codes are shown as stored."""
    if not code:
        return ""
    cat = catalogue().get(code)
    if cat is None:
        return code
    locale = str(get_locale() or "zh_CN")
    return cat.label(locale)
