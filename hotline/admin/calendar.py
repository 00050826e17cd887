"""The working calendar entered by an admin: a year's holidays and 调休 working days, from the State Council notice.

The admin types the notice one entry a line::

    2027-01-01..2027-01-03 元旦
    2027-02-06..2027-02-12 春节
    2027-02-14 上班

A date or a range with a name is a holiday (every day of the range is stored,
weekends included, so the range reads back as it was typed); a date or a range
followed by 上班 (or 调休) is a weekend day worked. :func:`parse_entries` checks
it all and says what is wrong line by line; :func:`save_year` replaces the
year in the database and audits it. A saved year overrides ``calendar.toml``
and the ``chinesecalendar`` package for that year (see
``hotline.escalation.sla.CalendarSource``).
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from hotline import audit
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.extensions import db
from models.calendar import CalendarDay, CalendarYear
from models.user import User

#: The years that can be entered: the package's first year to far enough ahead.
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_LINES = 200
MAX_NAME = 64
MAX_SOURCE = 200
#: Words that make an entry a 调休 working day instead of a holiday.
WORKDAY_WORDS = ("上班", "调休上班", "调休", "补班", "workday")

_DATE = r"(\d{4})\s*-\s*(\d{1,2})\s*-\s*(\d{1,2})"
_LINE = re.compile(rf"{_DATE}(?:\s*(?:\.\.|~|至|到|—)\s*{_DATE})?(?:\s+(.*))?")


@dataclass(frozen=True)
class Entry:
    """One line: a holiday (with its name) or working days, from ``first`` to ``last`` inclusive."""

    line: int
    first: date
    last: date
    kind: str
    name: str | None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def text(self) -> str:
        span = self.first.isoformat() if self.first == self.last else f"{self.first}..{self.last}"
        return f"{span} {self.name if self.kind == 'holiday' else '上班'}"


def parse_entries(text: str, year: int) -> tuple[list[Entry], list[str]]:
    """The entries of ``text`` for ``year``, and what is wrong with it (one message per problem, by line)."""
    entries: list[Entry] = []
    errors: list[str] = []
    taken: dict[date, Entry] = {}
    lines = (text or "").splitlines()
    if len(lines) > MAX_LINES:
        return [], [str(_l("At most %(n)s lines.", n=MAX_LINES))]
    for number, raw in enumerate(lines, start=1):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line or line.startswith("#"):
            continue
        entry, problem = _parse_line(number, line, year)
        if problem:
            errors.append(str(_l("Line %(n)s (%(line)s): %(problem)s", n=number, line=line, problem=problem)))
            continue
        clash = next((taken[d] for d in entry.days if d in taken), None)
        if clash is not None:
            errors.append(
                str(
                    _l(
                        "Line %(n)s (%(line)s): overlaps line %(other)s (%(other_text)s).",
                        n=number,
                        line=line,
                        other=clash.line,
                        other_text=clash.text(),
                    )
                )
            )
            continue
        taken.update(dict.fromkeys(entry.days, entry))
        entries.append(entry)
    if not errors and not any(e.kind == "holiday" for e in entries):
        errors.append(str(_l("Enter the year's holidays: at least one line with a date or a range and its name.")))
    return sorted(entries, key=lambda e: e.first), errors


def _parse_line(number: int, line: str, year: int) -> tuple[Entry | None, str | None]:
    match = _LINE.fullmatch(line)
    if not match:
        return None, str(
            _l("write a date or a range and a name, such as 2027-02-06..2027-02-12 春节, or a date and 上班.")
        )
    try:
        first = _date(match.group(1, 2, 3))
        last = _date(match.group(4, 5, 6)) if match.group(4) else first
    except ValueError as exc:
        return None, str(_l("%(date)s is not a date.", date=exc.args[0]))
    for day in (first, last):
        if day.year != year:
            return None, str(_l("%(date)s is not in %(year)s.", date=day.isoformat(), year=year))
    if last < first:
        return None, str(_l("the range ends before it starts."))
    label = (match.group(7) or "").strip()
    if not label:
        return None, str(_l("give the holiday's name (元旦, 春节...) or 上班 for a working weekend day."))
    if label.lower() in WORKDAY_WORDS:
        entry = Entry(number, first, last, "workday", None)
        weekday = next((d for d in entry.days if d.weekday() < 5), None)
        if weekday is not None:
            return None, str(
                _l(
                    "%(date)s is a weekday and worked anyway: only a Saturday or Sunday can be a 调休 working day.",
                    date=weekday.isoformat(),
                )
            )
        return entry, None
    if len(label) > MAX_NAME:
        return None, str(_l("the name is too long (at most %(n)s characters).", n=MAX_NAME))
    return Entry(number, first, last, "holiday", label), None


def _date(parts: tuple[str, str, str]) -> date:
    try:
        return date(*(int(p) for p in parts))
    except ValueError:
        raise ValueError("-".join(parts)) from None


def entries_text(calendar_year: CalendarYear) -> str:
    """A saved year as the admin would type it: holidays grouped into ranges by name, one working day a line."""
    lines: list[Entry] = []
    for day in calendar_year.days:
        last = lines[-1] if lines else None
        if (
            last is not None
            and last.last + timedelta(days=1) == day.day
            and (last.kind, last.name) == (day.kind, day.name)
            and day.kind == "holiday"
        ):
            lines[-1] = Entry(last.line, last.first, day.day, last.kind, last.name)
        else:
            lines.append(Entry(0, day.day, day.day, day.kind, day.name))
    return "\n".join(e.text() for e in lines)


def summary(entries: list[Entry]) -> dict[str, int]:
    """What a preview shows in numbers: holiday days (of which weekdays off) and working weekend days."""
    holidays = [d for e in entries if e.kind == "holiday" for d in e.days]
    return {
        "holiday_days": len(holidays),
        "weekdays_off": sum(1 for d in holidays if d.weekday() < 5),
        "workdays": sum(len(e.days) for e in entries if e.kind == "workday"),
    }


def check_year(year: int | None) -> int:
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        raise DomainError(_l("Enter a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))
    return year


def save_year(
    *,
    actor: User,
    now: datetime,
    year: int,
    source: str,
    text: str,
    expected_updated_at: datetime | None,
) -> CalendarYear:
    """Replace ``year``'s holidays and 调休 working days with those of ``text``, and audit it (admins only).

    ``expected_updated_at`` is when the year was last saved as the admin's form
    saw it (None: a year not entered yet); if someone saved it since, nothing is
    written (:class:`StaleError`). The caller commits, then calls
    ``hotline.escalation.sla.calendar_changed()``.
    """
    if actor.role != "admin":
        raise NotAllowed(_l("Only an administrator can change the working calendar."))
    check_year(year)
    source = (source or "").strip()
    if not source:
        raise DomainError(_l("Name the notice the dates come from (its title or number)."))
    if len(source) > MAX_SOURCE:
        raise DomainError(_l("The source is too long (at most %(n)s characters).", n=MAX_SOURCE))
    entries, errors = parse_entries(text, year)
    if errors:
        raise DomainError(" ".join(errors))
    existing = db.session.get(CalendarYear, year)
    if existing is not None and existing.updated_at != expected_updated_at:
        raise StaleError(_l("Someone saved %(year)s while you were editing it; open it again.", year=year))
    if existing is None and expected_updated_at is not None:
        raise StaleError(_l("Someone removed %(year)s while you were editing it; open it again.", year=year))
    before = entries_text(existing) if existing is not None else None
    if existing is None:
        existing = CalendarYear(year=year)
        db.session.add(existing)
    existing.source = source
    existing.updated_by_id = actor.id
    existing.updated_at = now
    # The year's days are replaced whole: the old rows go first, as a date keeps its primary key.
    db.session.execute(delete(CalendarDay).where(CalendarDay.year == year))
    db.session.flush()
    db.session.expire(existing, ["days"])
    db.session.add_all(CalendarDay(day=d, year=year, kind=e.kind, name=e.name) for e in entries for d in e.days)
    db.session.flush()
    db.session.expire(existing, ["days"])
    audit.record(
        "calendar_year_saved",
        actor_id=actor.id,
        now=now,
        target=f"calendar:{year}",
        year=year,
        source=source,
        # One entry a line, as typed: the entries are a text, not a list, so none reads as a change.
        entries="\n".join(e.text() for e in entries),
        before=before,
        **summary(entries),
    )
    return existing


def remove_year(*, actor: User, now: datetime, year: int, expected_updated_at: datetime | None) -> None:
    """Take an entered year out of the database (entered by mistake): ``calendar.toml`` and the package count
    for it again. Admins only; audited with what was removed; stale forms refused as in :func:`save_year`."""
    if actor.role != "admin":
        raise NotAllowed(_l("Only an administrator can change the working calendar."))
    existing = db.session.get(CalendarYear, year)
    if existing is None:
        raise DomainError(_l("%(year)s is not entered here.", year=year))
    if existing.updated_at != expected_updated_at:
        raise StaleError(_l("Someone saved %(year)s while you were editing it; open it again.", year=year))
    removed = entries_text(existing)
    db.session.delete(existing)  # its days go with it (cascade)
    audit.record(
        "calendar_year_removed",
        actor_id=actor.id,
        now=now,
        target=f"calendar:{year}",
        year=year,
        source=existing.source,
        before=removed,
    )


def saved_years() -> list[CalendarYear]:
    return list(db.session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc())))
