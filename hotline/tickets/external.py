"""Cases reported by other systems and people: partner platforms (the API), the monitoring platform's
alerts (the import), grid workers and visits. One function receives them all: ``receive_report``.

A report with the same source and external id as one received before opens nothing (``duplicate``: the
first report's ticket is answered); a report about a person who has an open ticket is added to that ticket
(``added_to_open``); any other opens an unclaimed ticket on the hotline's desk, whose channel the source
gives (``proactive`` for 主动发现, ``api`` for a transfer) and whose priority and category are the
reporter's, or triage's of the text. Like the ticket service, it leaves the commit to the caller.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline.errors import DomainError
from hotline.extensions import DIALECT_INSERT, db
from hotline.idcard import check_id_number
from hotline.policy import catalogue, sources
from hotline.privacy import normalize_phone
from hotline.tickets.service import add_event, build_unclaimed_ticket, checked_place, store_unclaimed_ticket
from hotline.triage import triage_text
from hotline.user_notifications import notify
from hotline.validation import checked_text
from models.contact import Contact
from models.external_report import ExternalReport
from models.ticket import OPEN_STATUSES, PRIORITIES, Ticket
from models.user import User

#: How a report arrived.
VIA = ("api", "import", "grid_page", "visit")


@dataclass(frozen=True)
class Person:
    """The person a report is about, as the reporter knows them; every field may be empty."""

    name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    township_id: int | None = None
    village_id: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class Received:
    """What became of a report: ``outcome`` is created, added_to_open or duplicate."""

    ticket: Ticket
    outcome: str
    report: ExternalReport


def receive_report(
    *,
    now: datetime,
    source: str,
    summary: str,
    via: str,
    description: str | None = None,
    external_id: str | None = None,
    person: Person | None = None,
    priority: str | None = None,
    category: str | None = None,
    due_at: datetime | None = None,
    reporter: User | None = None,
    extra: dict | None = None,
) -> Received:
    """Receive one report: a new ticket, an addition to the person's open ticket, or the duplicate's ticket.

    Refused with ``DomainError`` (nothing written): an unknown source, channel or category, a priority not
    P0..P3, an empty summary, an ID number whose check digit is wrong, a village outside its township.
    """
    known = sources().get(source or "")
    if known is None:
        raise DomainError(_l("Unknown source %(source)s: use a code of sources.toml.", source=source))
    if via not in VIA:
        raise DomainError(_l("Unknown channel."))
    summary = checked_text(summary, _l("Write a one-line summary of the case."), limit=200)
    description = checked_text(description, None, required=False)
    external_id = checked_text(external_id, None, required=False, limit=64)
    if priority is not None and priority not in PRIORITIES:
        raise DomainError(_l("Choose a priority."))
    if category is not None and catalogue().get(category) is None:
        raise DomainError(_l("Choose a category from the list."))
    person = person or Person()
    id_number = check_id_number(person.id_number)
    township_id, village_id = checked_place(person.township_id, person.village_id)
    name = checked_text(person.name, None, required=False, limit=120)
    address = checked_text(person.address, None, required=False, limit=500)

    report_id = _claim(source, external_id, summary, description, due_at, reporter, via, extra or {}, now)
    if report_id is None:  # received before (perhaps by a retry running at the same time): its ticket
        first = db.session.scalar(
            select(ExternalReport).where(ExternalReport.source == source, ExternalReport.external_id == external_id)
        )
        return Received(first.ticket, "duplicate", first)
    report = db.session.get(ExternalReport, report_id)

    contact = _person_contact(person.phone, id_number, now=now)
    values = {"name": name, "id_number": id_number, "address": address}
    values |= {"township_id": township_id, "village_id": village_id}
    if contact is not None:
        for key, value in values.items():  # what the reporter knows completes the record, never overwrites it
            if value is not None and getattr(contact, key) is None:
                setattr(contact, key, value)
        open_ticket = db.session.scalar(
            select(Ticket)
            .where(Ticket.contact_id == contact.id, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(1)
        )
        if open_ticket is not None:
            report.ticket_id, report.outcome = open_ticket.id, "added_to_open"
            open_ticket.updated_at = now
            add_event(open_ticket, reporter, "external_report", now, **_event_payload(report, summary, description))
            notify(
                open_ticket.first_contact_owner_id,
                "external_report",
                now=now,
                ticket_id=open_ticket.id,
                number=open_ticket.number,
                source=source,
            )
            return Received(open_ticket, "added_to_open", report)
    else:
        raw_phone = (person.phone or "").strip() or None
        e164 = normalize_phone(raw_phone) if raw_phone else None
        contact = Contact(phone=e164, phone_raw=None if e164 else raw_phone, created_at=now, **values)
        db.session.add(contact)
        db.session.flush()

    text = "\n".join(filter(None, (summary, description)))
    triaged = triage_text(text) if priority is None or category is None else None
    ticket = build_unclaimed_ticket(
        now=now,
        channel=known.channel,
        summary=summary,
        body=description,
        category=category or triaged.category,
        priority=priority or triaged.priority,
        contact=contact,
        triage_reasons=tuple(triaged.reasons) if triaged and priority is None and category is None else None,
        triage_kind=triaged.kind if triaged and priority is None and category is None else None,
    )
    ticket.source = source
    store_unclaimed_ticket(ticket, contact=contact, now=now)
    report.ticket_id, report.outcome = ticket.id, "created"
    add_event(ticket, reporter, "external_report", now, **_event_payload(report, summary, description))
    return Received(ticket, "created", report)


def _claim(source, external_id, summary, description, due_at, reporter, via, extra, now) -> int | None:
    """Insert the report's row, or nothing when the source's id is already there: its id, or None.

    ``ON CONFLICT DO NOTHING`` makes two retries of one report at the same time safe: on PostgreSQL the second
    waits for the first to commit and then finds its row; SQLite writes one at a time.
    """
    table = ExternalReport.__table__
    values = {
        "source": source,
        "external_id": external_id,
        "summary": summary,
        "description": description,
        "due_at": due_at,
        "reporter_id": reporter.id if reporter else None,
        "via": via,
        "extra": extra,
        "received_at": now,
    }
    insert = DIALECT_INSERT[db.session.get_bind().dialect.name](table).values(values)
    if external_id is not None:
        insert = insert.on_conflict_do_nothing(index_elements=[table.c.source, table.c.external_id])
    return db.session.execute(insert.returning(table.c.id)).scalar()


def _person_contact(phone: str | None, id_number: str | None, *, now: datetime) -> Contact | None:
    """The person's contact record: by phone number first, then by ID number; None when neither is known."""
    e164 = normalize_phone(phone) if phone else None
    if e164:
        found = db.session.scalar(select(Contact).where(Contact.phone == e164))
        if found is not None:
            return found
    if id_number:
        return db.session.scalar(
            select(Contact).where(Contact.id_number == id_number).order_by(Contact.id.desc()).limit(1)
        )
    return None


def _event_payload(report: ExternalReport, summary: str, description: str | None) -> dict:
    payload = {"source": report.source, "external_id": report.external_id, "via": report.via, "summary": summary}
    if description:
        payload["text"] = description
    if report.due_at is not None:
        payload["due_at"] = report.due_at.isoformat()
    return payload
