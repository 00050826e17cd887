"""The monitoring platform's alerts (低收入人口动态监测预警), imported: ``import_alerts``.

Admins and township staff upload the platform's export; the page and ``flask --app app hotline
import-alerts FILE [--commit]`` call the same function, :func:`import_alerts`. Each row is checked first:

- its 预警编号 is there and not repeated in the file (a repeat names the row it repeats), its 姓名 is there;
- its 乡镇 is a township of the county, by name (exact after spaces are removed and full-width characters
  made half-width), and its 村（社区）, when given, a village of that township (a village name is unique
  within its township; one found under another township is named);
- its 身份证号, when given, is a GB 11643 number (:mod:`hotline.idcard`: normalised, check digit) and did not
  lose digits as a spreadsheet number; its 预警日期, when given, is a date;
- the importing user may import it: admins any township's, township staff their own township's only (another
  township's row is an error for them: ``hotline.access.alert_townships``).

Blank rows are ignored. A preview (``commit=False``) writes nothing and says what the commit is expected to
do with each valid row from the database as it stands: ``duplicate`` (the 预警编号 was imported before),
``added_to_open`` (the person, by phone then ID number, has an open ticket, or an earlier row of the file opens
one) or ``created``. The commit passes each valid row to ``receive_report`` (source ``monitoring``, via
``import``), which alone decides, and its report says what happened.

**Routing.** An alert's ticket is a proactive (主动发现) ticket of the person's township and village; its
priority and catalogue category come from the 预警类型 in ``alerts.toml`` (a type not listed gets the
default). The import does not dispatch it: a referral is the decision of the ticket's first-contact owner
or a manager (首问负责制, ``dispatch_referral``), and neither an admin nor township staff is either. The
ticket waits in 待认领 on the hotline's desk (its page shows the person's township); whoever takes it gets the
dispatch catalogue's suggestion, in which ``township`` is the person's own township (the lead for 独居老人
and the other categories the township leads, an assist where the catalogue lists it so). An alert for a person with
an open ticket is added to that ticket and its owner is told.

The alert's date is kept with the report (``ExternalReport.extra``: ``alert_date`` as written, ``alerted_at``
the instant, local midnight for a date alone), so the reports measure the time from the alert to the first
contact. The import is audited (``alerts_imported``, with its figures); each ticket's timeline has the report.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from hotline.access import alert_townships
from hotline.audit import record
from hotline.discovery.alert_file import AlertRow, read_alert_file
from hotline.discovery.alert_policy import AlertPolicy, alert_policy, header_key
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.idcard import id_number_problem
from hotline.privacy import normalize_phone
from hotline.tickets.external import Person, receive_report
from hotline.timeutil import parse_instant
from models.contact import Contact
from models.department import Department
from models.external_report import ExternalReport
from models.ticket import OPEN_STATUSES, Ticket
from models.user import User

#: What became of a row (or, in a preview, what is expected to).
OUTCOMES = ("created", "added_to_open", "duplicate", "error")
#: Rows looked up per query (SQLite allows at most 32,766 parameters; this keeps statements small).
_CHUNK = 500


@dataclass
class RowResult:
    """One row of the file and its outcome; ``message`` says why it is an error."""

    row: int
    values: dict
    outcome: str
    message: str | None = None
    ticket_id: int | None = None
    ticket_number: str | None = None


@dataclass
class ImportReport:
    """What an import did (``committed``) or would do: one result per row of the file, in its order."""

    committed: bool
    results: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def errors(self) -> list[dict]:
        return [{"row": r.row, "message": r.message} for r in self.results if r.outcome == "error"]

    def summary(self) -> dict:
        """The figures the command prints: rows, created, duplicates, added_to_open, errors (row, message)."""
        return {
            "rows": len(self.results),
            "created": self.count("created"),
            "duplicates": self.count("duplicate"),
            "added_to_open": self.count("added_to_open"),
            "errors": self.errors,
        }


@dataclass
class _Checked:
    """A row checked: the person as ``receive_report`` takes them, or the reasons it cannot be imported."""

    source: AlertRow
    problems: list[str]
    person: Person | None = None


def import_alerts(
    source: bytes | Iterable[AlertRow],
    *,
    actor: User | None,
    now: datetime,
    commit: bool,
    after_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every alert of ``source`` (the export's bytes, or rows already read) and, with ``commit``, import
    the valid ones through ``receive_report``; without it nothing is written (a preview).

    ``actor`` is the importing user (None: the server's console, which may import every township's alerts).
    ``after_batch(done)`` is called after every ``batch`` rows of ``alerts.toml`` are imported, so a caller
    can commit in batches; otherwise the commit is the caller's, as always. ``DomainError`` when the file
    cannot be read at all (no header row, not a spreadsheet, too many rows).
    """
    policy = alert_policy()
    rows = read_alert_file(bytes(source), policy) if isinstance(source, bytes | bytearray) else list(source)
    checked = _check(rows, actor=actor, policy=policy)
    report = ImportReport(committed=commit)
    if not commit:
        predicted = _predict(checked, policy)
        for item in checked:
            if item.problems:
                report.results.append(_error(item))
            else:
                outcome, ticket_id = predicted[item.source.row]
                report.results.append(RowResult(item.source.row, item.source.values, outcome, ticket_id=ticket_id))
        return report
    done = 0
    for item in checked:
        if item.problems:
            report.results.append(_error(item))
            continue
        report.results.append(_receive(item, actor=actor, now=now, policy=policy))
        done += 1
        if after_batch is not None and done % policy.batch == 0:
            after_batch(done)
    return report


def audit_import(
    *,
    actor: User | None,
    now: datetime,
    filename: str | None,
    rows: int,
    created: int,
    duplicates: int,
    added_to_open: int,
    errors: int,
) -> None:
    """The import on the audit trail, with its figures (the caller commits)."""
    record(
        "alerts_imported",
        actor_id=actor.id if actor else None,
        now=now,
        target=(filename or "")[:64] or None,
        rows=rows,
        created=created,
        duplicates=duplicates,
        added_to_open=added_to_open,
        errors=errors,
    )


def alerted_at(values: dict) -> datetime | None:
    """The instant of the alert's 预警日期 (local midnight for a date alone), in UTC; None without one."""
    text = values.get("alert_date")
    return parse_instant(text) if text else None


# --- checking ------------------------------------------------------------------------------------


def _check(rows: list[AlertRow], *, actor: User | None, policy: AlertPolicy) -> list[_Checked]:
    places = _Places()
    allowed = alert_townships(actor)
    title = policy.titles
    first_row: dict[str, int] = {}
    out = []
    for row in rows:
        values = row.values
        problems = list(row.problems)
        alert_id = values.get("alert_id")
        if not alert_id:
            problems.append(_("%(column)s is empty.", column=title["alert_id"]))
        elif len(alert_id) > 64:
            problems.append(_("%(column)s is longer than 64 characters.", column=title["alert_id"]))
        elif alert_id in first_row:
            problems.append(
                _("Repeats row %(row)s (the same %(column)s).", row=first_row[alert_id], column=title["alert_id"])
            )
        else:
            first_row[alert_id] = row.row
        name = values.get("name")
        if not name:
            problems.append(_("%(column)s is empty.", column=title["name"]))
        elif len(name) > 120:
            problems.append(_("%(column)s is longer than 120 characters.", column=title["name"]))
        township, village = places.find(values.get("township"), values.get("village"), problems, title)
        if township is not None and allowed is not None and township.id not in allowed:
            problems.append(
                _(
                    "%(township)s is not your township: you import your own township's alerts only.",
                    township=township.name,
                )
            )
        id_number = values.get("id_number")
        if id_number and not row.id_number_lost:
            problem = id_number_problem(id_number)
            if problem:
                problems.append(problem)
        person = None
        if not problems:
            person = Person(
                name=name,
                phone=values.get("phone"),
                id_number=id_number,
                township_id=township.id,
                village_id=village.id if village else None,
            )
        out.append(_Checked(row, problems, person))
    return out


class _Places:
    """Townships and villages by name, read once per import."""

    def __init__(self):
        units = db.session.scalars(
            select(Department).where(Department.active.is_(True), Department.level.in_(("township", "village")))
        ).all()
        self.townships = {header_key(u.name): u for u in units if u.level == "township"}
        by_id = {u.id: u for u in units}
        self.villages: dict[tuple[int, str], list[Department]] = {}
        self.anywhere: dict[str, list[Department]] = {}
        for unit in units:
            if unit.level == "village":
                self.villages.setdefault((unit.parent_id, header_key(unit.name)), []).append(unit)
                self.anywhere.setdefault(header_key(unit.name), []).append(unit)
        self.by_id = by_id

    def find(self, township_name, village_name, problems: list, title: dict):
        if not township_name:
            problems.append(_("%(column)s is empty.", column=title["township"]))
            return None, None
        township = self.townships.get(header_key(township_name))
        if township is None:
            problems.append(_("Unknown township: %(name)s.", name=township_name))
            return None, None
        if not village_name:
            return township, None
        found = self.villages.get((township.id, header_key(village_name)), [])
        if len(found) == 1:
            return township, found[0]
        if len(found) > 1:
            problems.append(
                _(
                    "%(township)s has two villages named %(name)s: correct the units first.",
                    township=township.name,
                    name=village_name,
                )
            )
            return township, None
        elsewhere = [self.by_id.get(v.parent_id) for v in self.anywhere.get(header_key(village_name), [])]
        elsewhere = [t.name for t in elsewhere if t is not None]
        if elsewhere:
            problems.append(
                _(
                    "%(village)s is not in %(township)s (it is in %(other)s).",
                    village=village_name,
                    township=township.name,
                    other="、".join(elsewhere),
                )
            )
        else:
            problems.append(
                _("Unknown village or community in %(township)s: %(name)s.", township=township.name, name=village_name)
            )
        return township, None


def _error(item: _Checked) -> RowResult:
    return RowResult(item.source.row, item.source.values, "error", message=" ".join(item.problems))


# --- preview: what the commit is expected to do -----------------------------------------------------


def _predict(checked: list[_Checked], policy: AlertPolicy) -> dict[int, tuple[str, int | None]]:
    """Row -> (expected outcome, ticket id when known), from the database as it stands; writes nothing.

    ``receive_report`` decides at the commit; this reads what it reads: reports of the same source and id,
    then the person's contact by phone, then by ID number, and that contact's newest open ticket.
    """
    valid = [c for c in checked if c.person is not None]
    ids = [c.source.values["alert_id"] for c in valid]
    seen: dict[str, int | None] = {}
    for part in _chunks(ids):
        rows = db.session.execute(
            select(ExternalReport.external_id, ExternalReport.ticket_id).where(
                ExternalReport.source == policy.source, ExternalReport.external_id.in_(part)
            )
        )
        seen.update(rows.all())
    phones = {c.person.phone: normalize_phone(c.person.phone) for c in valid if c.person.phone}
    numbers = {c.person.id_number for c in valid if c.person.id_number}
    by_phone: dict[str, int] = {}
    for part in _chunks(sorted({p for p in phones.values() if p})):
        by_phone.update(db.session.execute(select(Contact.phone, Contact.id).where(Contact.phone.in_(part))).all())
    by_number: dict[str, int] = {}
    for part in _chunks(sorted(numbers)):
        rows = db.session.execute(
            select(Contact.id_number, Contact.id).where(Contact.id_number.in_(part)).order_by(Contact.id)
        )
        by_number.update(rows.all())  # the newest contact of a number last, so it wins (as receive_report)
    open_ticket: dict[int, int] = {}
    contact_ids = sorted(set(by_phone.values()) | set(by_number.values()))
    for part in _chunks(contact_ids):
        rows = db.session.execute(
            select(Ticket.contact_id, Ticket.id)
            .where(Ticket.contact_id.in_(part), Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.created_at, Ticket.id)
        )
        open_ticket.update(rows.all())
    out: dict[int, tuple[str, int | None]] = {}
    new_phones: set[str] = set()  # the people an earlier row of the file gives a new contact
    new_numbers: set[str] = set()
    opened: set[int] = set()  # known contacts an earlier row of the file opens a ticket for
    for item in valid:
        alert_id, person = item.source.values["alert_id"], item.person
        if alert_id in seen:
            out[item.source.row] = ("duplicate", seen[alert_id])
            continue
        e164 = phones.get(person.phone) if person.phone else None
        if (e164 and e164 in new_phones) or (
            not (e164 and e164 in by_phone) and person.id_number and person.id_number in new_numbers
        ):
            out[item.source.row] = ("added_to_open", None)
            continue
        contact = by_phone.get(e164) if e164 else None
        if contact is None and person.id_number:
            contact = by_number.get(person.id_number)
        if contact is not None and (contact in open_ticket or contact in opened):
            out[item.source.row] = ("added_to_open", open_ticket.get(contact))
            continue
        out[item.source.row] = ("created", None)
        if contact is not None:
            opened.add(contact)
        else:
            new_phones.update([e164] if e164 else [])
            new_numbers.update([person.id_number] if person.id_number else [])
    return out


def _chunks(values: list) -> Iterable[list]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- commit --------------------------------------------------------------------------------------------


def _receive(item: _Checked, *, actor: User | None, now: datetime, policy: AlertPolicy) -> RowResult:
    values = item.source.values
    kind = policy.type_of(values.get("alert_type"))
    extra = {"row": item.source.row}
    if values.get("alert_type"):
        extra["alert_type"] = values["alert_type"]
    if values.get("alert_date"):
        extra["alert_date"] = values["alert_date"]
        extra["alerted_at"] = alerted_at(values).isoformat()
    try:
        got = receive_report(
            now=now,
            source=policy.source,
            via="import",
            summary=policy.summary_of(values.get("alert_type")),
            description=values.get("content"),
            external_id=values["alert_id"],
            person=item.person,
            priority=kind.priority,
            category=kind.category,
            reporter=actor,
            extra=extra,
        )
    except DomainError as exc:
        return RowResult(item.source.row, values, "error", message=str(exc.message))
    return RowResult(item.source.row, values, got.outcome, ticket_id=got.ticket.id, ticket_number=got.ticket.number)
