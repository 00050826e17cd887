"""Policy data from ``config/policy/*.toml``, parsed once per application."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import get_locale

from hotline.escalation.sla import init_sla
from hotline.triage import init_triage, init_triage_model


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


def catalogue() -> Catalogue:
    """The catalogue of the current application."""
    return current_app.extensions["hotline_policy"]["catalogue"]


def init_policy(app) -> None:
    policy_dir = Path(app.config["POLICY_DIR"])
    app.extensions["hotline_policy"] = {"catalogue": load_catalogue(policy_dir / "catalogue.toml")}
    init_sla(app)
    init_triage(app)
    init_triage_model(app)


def category_label(code: str | None) -> str:
    """The category's name in the current UI language; unknown codes are shown as stored."""
    if not code:
        return ""
    cat = catalogue().get(code)
    if cat is None:
        return code
    locale = str(get_locale() or "zh_CN")
    return cat.label(locale)
