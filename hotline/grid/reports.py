"""A grid worker's report (网格员、协理员报告): one service function, ``report_case``, and the photo rules."""

import secrets
from datetime import datetime
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import access
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.grid.policy import visit_policy
from hotline.tickets.external import Person, Received, receive_report
from hotline.uploads import PICTURES, sniff
from hotline.validation import checked_text
from models.contact import Contact
from models.department import Department
from models.user import User
from models.visit import VisitPlan

#: The longest summary line cut from what the reporter wrote; the whole text is the ticket's description.
SUMMARY_CHARS = 80


def reporter_township(user: User) -> Department | None:
    """The township a field worker's unit belongs to (the unit itself, its parent, or its grandparent)."""
    unit = user.department
    while unit is not None and unit.level != "township":
        unit = unit.parent
    return unit


def place_choices(user: User) -> list[Department]:
    """The villages a field worker may name as the place: those of their township, by name."""
    township = reporter_township(user)
    if township is None:
        return []
    return sorted((d for d in township.children if d.active and d.level == "village"), key=lambda d: d.name)


def home_village(user: User) -> Department | None:
    """The worker's own village: their unit when it is one, a grid's village; None for township staff."""
    unit = user.department
    if unit is None:
        return None
    if unit.level == "grid":
        return unit.parent
    return unit if unit.level == "village" else None


def households(user: User) -> list[VisitPlan]:
    """The households with a visit plan in the villages ``user`` visits, by name: the report form offers them."""
    villages = access.visit_village_ids(user)
    if not villages:
        return []
    return list(
        db.session.scalars(
            select(VisitPlan)
            .join(Contact, Contact.id == VisitPlan.contact_id)
            .where(VisitPlan.village_id.in_(villages), VisitPlan.active.is_(True))
            .order_by(Contact.name, VisitPlan.id)
        )
    )


def household_person(contact: Contact) -> Person:
    """The person a household is registered under, as ``receive_report`` finds them (phone, then ID number)."""
    return Person(
        name=contact.name,
        phone=contact.phone or contact.phone_raw,
        id_number=contact.id_number,
        township_id=contact.township_id,
        village_id=contact.village_id,
        address=contact.address,
    )


def split_text(text: str) -> tuple[str, str | None]:
    """A reporter's text as a one-line summary and, when the summary does not hold it all, the description."""
    first = text.strip().splitlines()[0].strip()
    summary = first if len(first) <= SUMMARY_CHARS else first[: SUMMARY_CHARS - 1] + "…"
    return summary, (text.strip() if summary != text.strip() else None)


def report_case(
    *,
    reporter: User,
    now: datetime,
    text: str,
    urgency: str,
    household_plan_id: int | None = None,
    name: str | None = None,
    phone: str | None = None,
    village_id: int | None = None,
    address: str | None = None,
    photo: bytes | None = None,
    photo_dir: Path | None = None,
) -> Received:
    """A field worker reports a case: a proactive ticket (source ``grid``) or an addition to the person's open one.

    Who: a household of the worker's villages, or a name (and a phone number); where: one of the villages of
    the worker's township; what happened; the urgency (visits.toml gives its priority); an optional JPEG or
    PNG photo, checked by content and size, stored under a random name in ``photo_dir``. Refused with
    ``DomainError`` before anything is written; the caller commits (a photo written for a transaction that
    then fails stays on disk, unreferenced).
    """
    if not access.can_report_case(reporter):
        raise NotAllowed(_l("Only township, village and grid staff report cases here."))
    policy = visit_policy()
    text = checked_text(text, _l("Say what happened."), limit=2000)
    if urgency not in policy.urgency:
        raise DomainError(_l("Choose how urgent it is."))
    if household_plan_id:
        plan = db.session.get(VisitPlan, household_plan_id)
        if plan is None or not access.can_visit(reporter, plan):
            raise DomainError(_l("Choose a household of your villages."))
        person = household_person(plan.contact)
    else:
        name = checked_text(name, _l("Say who it is about: a name, or pick a household."), limit=120)
        village = db.session.get(Department, village_id) if village_id else None
        if village is None or village not in place_choices(reporter):
            raise DomainError(_l("Choose a village of your township."))
        person = Person(
            name=name,
            phone=(phone or "").strip() or None,
            township_id=village.parent_id,
            village_id=village.id,
            address=checked_text(address, None, required=False, limit=500),
        )
    stored = None
    if photo:
        if len(photo) > policy.photo_max_bytes:
            raise DomainError(_l("The photo is too large: at most %(kb)s KB.", kb=policy.photo_max_bytes // 1024))
        kind = sniff(photo, PICTURES)  # a JPEG or PNG by its content, never its name
        if kind is None:
            raise DomainError(_l("The photo must be a JPEG or PNG picture."))
        if photo_dir is None:
            raise DomainError(_l("Photos cannot be kept here."))
        stored = {"photo": secrets.token_hex(16) + kind[1], "photo_type": kind[0]}
    summary, description = split_text(text)
    received = receive_report(
        now=now,
        source="grid",
        via="grid_page",
        summary=summary,
        description=description,
        person=person,
        priority=policy.urgency[urgency],
        reporter=reporter,
        extra={"urgency": urgency, **(stored or {})},
    )
    if stored and photo_dir is not None:
        photo_dir.mkdir(parents=True, exist_ok=True)
        path = photo_dir / stored["photo"]
        path.write_bytes(photo)
        path.chmod(0o600)
    return received


def photo_path(photo_dir: Path, name: str) -> Path | None:
    """Where a stored photo is, or None when the name is not one this module made (never a path out)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = photo_dir / name
    return path if path.is_file() else None
