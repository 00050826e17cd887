"""``config/policy/relief_rules.toml``: the papers of a grant, the kinds of service, the integrity checks.

Read once per application (:func:`init_relief_rules`, from :func:`hotline.policy.init_policy`);
a mistake stops start-up with :class:`ReliefRulesError` naming the file and the key.
"""

import tomllib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from flask import current_app
from flask_babel import get_locale

from hotline import toml_checks
from models.relief import KINDS


class ReliefRulesError(ValueError):
    """``relief_rules.toml`` is malformed."""


_table = partial(toml_checks.table, error=ReliefRulesError)
_only_keys = partial(toml_checks.only_keys, error=ReliefRulesError)
#: A stored code: short, plain (it is a column value and a form choice).
_CODE_MAX = 24


@dataclass(frozen=True)
class Kind:
    """A kind of document or of service: its stored code and its names."""

    code: str
    zh: str
    en: str

    def label(self, locale: str | None = None) -> str:
        locale = locale or str(get_locale() or "zh_CN")
        return self.zh if locale.startswith("zh") else self.en


@dataclass(frozen=True)
class ReliefRules:
    #: The largest upload, in bytes.
    max_document_bytes: int
    document_kinds: dict[str, Kind]
    #: relief kind -> the document kinds it needs (补齐手续), in the order listed.
    checklist: dict[str, tuple[str, ...]]
    service_kinds: dict[str, Kind]
    #: 重复救助: a grant to an ID number granted relief this many days before warns.
    repeat_days: int
    #: 一事一议: above this case total (fen) a grant needs a case-conference decision.
    case_conference_cap_fen: int
    #: The audit list's "near the limit": a case total at least this percentage of the township limit.
    near_limit_percent: int

    def document_label(self, code: str) -> str:
        kind = self.document_kinds.get(code)
        return kind.label() if kind else code

    def service_label(self, code: str) -> str:
        kind = self.service_kinds.get(code)
        return kind.label() if kind else code


def _positive(value, here: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ReliefRulesError(f"{here} must be a whole number above 0")
    return value


def _kinds(entries, here: str) -> dict[str, Kind]:
    if not isinstance(entries, list) or not entries:
        raise ReliefRulesError(f"{here}: the list of kinds is missing")
    kinds: dict[str, Kind] = {}
    for n, entry in enumerate(entries, start=1):
        where = f"{here} number {n}"
        if not isinstance(entry, dict):
            raise ReliefRulesError(f"{where}: must be a table with code, zh and en")
        _only_keys(entry, {"code", "zh", "en"}, where)
        code, zh, en = entry.get("code"), entry.get("zh"), entry.get("en")
        if not isinstance(code, str) or not code.isidentifier() or len(code) > _CODE_MAX:
            raise ReliefRulesError(f"{where}: code must be a plain word of at most {_CODE_MAX} characters")
        if code in kinds:
            raise ReliefRulesError(f"{where}: code {code!r} appears twice")
        if not all(isinstance(t, str) and t.strip() for t in (zh, en)):
            raise ReliefRulesError(f"{where}: write the names zh and en")
        kinds[code] = Kind(code, zh, en)
    return kinds


def load_relief_rules(path: Path) -> ReliefRules:
    """Read and check ``relief_rules.toml``."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ReliefRulesError(f"{path}: not valid TOML: {exc}") from exc
    where = str(path)
    _only_keys(data, {"documents", "checklist", "services", "integrity"}, where)

    documents = _table(data, "documents", where)
    _only_keys(documents, {"max_mb", "kind"}, f"{where}: [documents]")
    max_mb = _positive(documents.get("max_mb"), f"{where}: [documents] max_mb")
    document_kinds = _kinds(documents.get("kind"), f"{where}: [[documents.kind]]")

    checklist_table = _table(data, "checklist", where)
    _only_keys(checklist_table, set(KINDS), f"{where}: [checklist]")
    checklist: dict[str, tuple[str, ...]] = {}
    for relief_kind in KINDS:
        here = f"{where}: [checklist] {relief_kind}"
        papers = checklist_table.get(relief_kind)
        if not isinstance(papers, list) or not papers:
            raise ReliefRulesError(f'{here}: list the papers this relief needs, such as ["id_card"]')
        unknown = [p for p in papers if p not in document_kinds]
        if unknown:
            raise ReliefRulesError(f"{here}: unknown document kinds {unknown}; use some of {list(document_kinds)}")
        checklist[relief_kind] = tuple(dict.fromkeys(papers))

    services = _table(data, "services", where)
    _only_keys(services, {"kind"}, f"{where}: [services]")
    service_kinds = _kinds(services.get("kind"), f"{where}: [[services.kind]]")

    integrity = _table(data, "integrity", where)
    here = f"{where}: [integrity]"
    _only_keys(integrity, {"repeat_days", "case_conference_cap_yuan", "near_limit_percent"}, here)
    near = _positive(integrity.get("near_limit_percent"), f"{here} near_limit_percent")
    if near >= 100:
        raise ReliefRulesError(f"{here} near_limit_percent must be below 100")
    return ReliefRules(
        max_document_bytes=max_mb * 1024 * 1024,
        document_kinds=document_kinds,
        checklist=checklist,
        service_kinds=service_kinds,
        repeat_days=_positive(integrity.get("repeat_days"), f"{here} repeat_days"),
        case_conference_cap_fen=_positive(integrity.get("case_conference_cap_yuan"), f"{here} case_conference_cap_yuan")
        * 100,
        near_limit_percent=near,
    )


def init_relief_rules(app) -> None:
    app.extensions["hotline_policy"]["relief_rules"] = load_relief_rules(
        Path(app.config["POLICY_DIR"]) / "relief_rules.toml"
    )


def relief_rules() -> ReliefRules:
    """The rules of the current application."""
    return current_app.extensions["hotline_policy"]["relief_rules"]
