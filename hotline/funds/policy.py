"""``funds.toml``: which relief sources draw on which kind of fund, and what a payment above the balance does.

Parsed once at start-up; a malformed file stops the application with the file, the table and the key named.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from hotline.toml_checks import only_keys, table
from models.fund import KINDS
from models.relief import KINDS as SOURCES

OVERDRAFT_RULES = ("refuse", "needs_approval")


class FundsPolicyError(ValueError):
    """``funds.toml`` is malformed."""


@dataclass(frozen=True)
class FundsPolicy:
    #: relief source (``emergency_fund``) -> the fund kinds it is paid from, in the order they are looked for.
    draws: dict[str, tuple[str, ...]]
    #: ``refuse`` or ``needs_approval``.
    overdraft: str

    def fund_kinds(self, source: str) -> tuple[str, ...]:
        """The kinds of fund a relief of ``source`` is paid from; empty when it is paid from a budget."""
        return self.draws.get(source, ())


def load_funds_policy(path: Path) -> FundsPolicy:
    where = path.name
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    only_keys(data, {"draws", "overdraft"}, where, error=FundsPolicyError)
    draws_table = table(data, "draws", where, error=FundsPolicyError)
    only_keys(draws_table, set(SOURCES), f"{where}: [draws]", error=FundsPolicyError)
    draws = {}
    for source, kinds in draws_table.items():
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise FundsPolicyError(f"{where}: [draws] {source} must be a list of fund kinds out of {list(KINDS)}")
        draws[source] = tuple(kinds)
    overdraft = table(data, "overdraft", where, error=FundsPolicyError)
    only_keys(overdraft, {"rule"}, f"{where}: [overdraft]", error=FundsPolicyError)
    rule = overdraft.get("rule")
    if rule not in OVERDRAFT_RULES:
        raise FundsPolicyError(f"{where}: [overdraft] rule must be one of {list(OVERDRAFT_RULES)}")
    return FundsPolicy(draws=draws, overdraft=rule)


def init_funds(app: Flask) -> None:
    """Load ``funds.toml`` from ``POLICY_DIR`` once."""
    policy = load_funds_policy(Path(app.config["POLICY_DIR"]) / "funds.toml")
    app.extensions.setdefault("hotline_policy", {})["funds"] = policy


def funds_policy() -> FundsPolicy:
    """The funds policy of the current application."""
    return current_app.extensions["hotline_policy"]["funds"]
