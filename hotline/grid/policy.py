"""``config/policy/visits.toml``: visit intervals by household flag, the overdue ladder, grid reports' limits.

Parsed once when the application starts (:func:`init_grid_policy`); a malformed file stops start-up with a
message naming the key, like ``sla.toml``.
"""

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path

from flask import Flask, current_app

from hotline import toml_checks
from hotline.timeutil import LOCAL_TZ
from models.contact import FLAGS
from models.escalation import LEVELS
from models.ticket import PRIORITIES

#: Who hears of an overdue visit's step: the responsible village's staff (and its grids'), its township's, managers.
AUDIENCES = ("village", "township", "managers")
#: The urgencies a grid worker chooses from, in the order the page offers them.
URGENCIES = ("general", "urgent", "danger")


class VisitPolicyError(ValueError):
    """``visits.toml`` is malformed; raised when the application starts, naming the file and the key."""


_table = partial(toml_checks.table, error=VisitPolicyError)
_only_keys = partial(toml_checks.only_keys, error=VisitPolicyError)


@dataclass(frozen=True)
class IntervalRule:
    """Households with every one of ``flags`` are visited every ``days``."""

    name: str
    flags: tuple[str, ...]
    days: int


@dataclass(frozen=True)
class OverdueLevel:
    """A rung of the visits' ladder: ``level`` fires ``days_overdue`` days after the due date."""

    level: str
    days_overdue: int
    audience: tuple[str, ...]


@dataclass(frozen=True)
class OverdueStep:
    level: str
    at: datetime


@dataclass(frozen=True)
class VisitPolicy:
    intervals: tuple[IntervalRule, ...]
    due_within_days: int
    ladder: tuple[OverdueLevel, ...]
    #: urgency (:data:`URGENCIES`) -> ticket priority
    urgency: dict[str, str]
    photo_max_bytes: int

    def interval_for(self, flags) -> IntervalRule | None:
        """The shortest rule whose flags the household all has; None when no rule matches it."""
        have = set(flags)
        matching = [rule for rule in self.intervals if set(rule.flags) <= have]
        return min(matching, key=lambda rule: rule.days, default=None)

    def steps(self, due_on: date) -> list[OverdueStep]:
        """When each level fires for a visit due on ``due_on`` (a local day): 00:00 local, N days after it."""
        return [
            OverdueStep(
                step.level,
                datetime.combine(due_on + timedelta(days=step.days_overdue), time(0), LOCAL_TZ).astimezone(UTC),
            )
            for step in self.ladder
        ]

    def audience(self, level: str) -> tuple[str, ...]:
        return next((step.audience for step in self.ladder if step.level == level), ())


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def load_visit_policy(path: Path) -> VisitPolicy:
    """Read and check ``visits.toml``; every mistake raises :class:`VisitPolicyError` naming the file and key."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VisitPolicyError(f"{path}: cannot be read as TOML: {exc}") from exc
    where = str(path)
    _only_keys(data, {"interval", "page", "ladder", "report"}, where)
    page = _table(data, "page", where)
    _only_keys(page, {"due_within_days"}, f"{where}: [page]")
    if not _positive_int(page.get("due_within_days")):
        raise VisitPolicyError(f"{where}: [page] due_within_days must be a whole number of days above 0")
    report = _table(data, "report", where)
    _only_keys(report, {"urgency", "photo_max_kb"}, f"{where}: [report]")
    urgency = report.get("urgency")
    if (
        not isinstance(urgency, dict)
        or set(urgency) != set(URGENCIES)
        or any(p not in PRIORITIES for p in urgency.values())
    ):
        raise VisitPolicyError(f"{where}: [report] urgency must give each of {list(URGENCIES)} a priority P0..P3")
    if not _positive_int(report.get("photo_max_kb")):
        raise VisitPolicyError(f"{where}: [report] photo_max_kb must be a whole number of kilobytes above 0")
    return VisitPolicy(
        intervals=_intervals(data.get("interval"), where),
        due_within_days=page["due_within_days"],
        ladder=_ladder(data.get("ladder"), where),
        urgency=dict(urgency),
        photo_max_bytes=report["photo_max_kb"] * 1024,
    )


def _intervals(entries, where: str) -> tuple[IntervalRule, ...]:
    if not isinstance(entries, list) or not entries:
        raise VisitPolicyError(f"{where}: [[interval]] rules are missing")
    rules = []
    for n, entry in enumerate(entries, start=1):
        here = f"{where}: [[interval]] number {n}"
        if not isinstance(entry, dict):
            raise VisitPolicyError(f"{here}: must be a table with name, flags and days")
        _only_keys(entry, {"name", "flags", "days"}, here)
        name, flags, days = entry.get("name"), entry.get("flags"), entry.get("days")
        if not isinstance(name, str) or not name or len(name) > 32 or any(r.name == name for r in rules):
            raise VisitPolicyError(f"{here}: name must be a distinct text of at most 32 characters")
        if not isinstance(flags, list) or not flags or any(f not in FLAGS for f in flags):
            raise VisitPolicyError(f"{here}: flags must be a list of some of {list(FLAGS)}, not {flags!r}")
        if not _positive_int(days):
            raise VisitPolicyError(f"{here}: days must be a whole number above 0")
        rules.append(IntervalRule(name, tuple(flags), days))
    return tuple(rules)


def _ladder(entries, where: str) -> tuple[OverdueLevel, ...]:
    if not isinstance(entries, list) or not entries:
        raise VisitPolicyError(f"{where}: [[ladder]] levels are missing")
    ladder: list[OverdueLevel] = []
    for n, entry in enumerate(entries, start=1):
        here = f"{where}: [[ladder]] number {n}"
        if not isinstance(entry, dict):
            raise VisitPolicyError(f"{here}: must be a table with level, days_overdue and audience")
        _only_keys(entry, {"level", "days_overdue", "audience"}, here)
        level, days, audience = entry.get("level"), entry.get("days_overdue"), entry.get("audience")
        if level not in LEVELS or any(step.level == level for step in ladder):
            raise VisitPolicyError(f"{here}: level {level!r} must be one of {list(LEVELS)}, each once")
        if ladder and LEVELS.index(level) < LEVELS.index(ladder[-1].level):
            raise VisitPolicyError(f"{here}: level {level!r} must come after {ladder[-1].level!r} on the ladder")
        if not _positive_int(days) or (ladder and days <= ladder[-1].days_overdue):
            raise VisitPolicyError(f"{here}: days_overdue must be a whole number above 0 and above the last level's")
        if not isinstance(audience, list) or any(who not in AUDIENCES for who in audience):
            raise VisitPolicyError(f"{here}: audience must be a list of some of {list(AUDIENCES)}, not {audience!r}")
        ladder.append(OverdueLevel(level, days, tuple(audience)))
    return tuple(ladder)


def init_grid_policy(app: Flask) -> None:
    """Load ``visits.toml`` from ``POLICY_DIR`` once; a malformed file stops start-up."""
    policy = load_visit_policy(Path(app.config["POLICY_DIR"]) / "visits.toml")
    app.extensions.setdefault("hotline_policy", {})["visits"] = policy


def visit_policy() -> VisitPolicy:
    """The visits policy of the current application."""
    return current_app.extensions["hotline_policy"]["visits"]
