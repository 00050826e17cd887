"""服务类救助: services delivered to a case (探视, 照料, 心理疏导, 就业帮扶, 助学...), beside money.

A service has a kind (``[[services.kind]]`` of ``relief_rules.toml``), who delivered it (a unit, or a
contracted social-work organisation named in words), its first and last day, the hours spent and what
came of it. Recording one writes a ``service_recorded`` event; the reports count cases with services
and hours by kind (:mod:`hotline.reports.services`).
"""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import access
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.relief.rules import relief_rules
from hotline.tickets.service import add_event
from hotline.timeutil import local_date
from hotline.validation import checked_text
from models.department import Department
from models.relief_service import ReliefService
from models.ticket import Ticket
from models.user import User

#: One service record covers at most this many hours (a month of full-time care is 744 h of the clock).
MAX_HOURS = 1000
#: How far back a service may be recorded (a visit last year is a typing mistake more often than not).
MAX_DAYS_BACK = 366
_HOURS_RE = re.compile(r"^\d+(?:\.\d+)?$")


def parse_hours(value: str | Decimal | None) -> int:
    """Hours as typed (``2``, ``1.5``) -> whole minutes; more than :data:`MAX_HOURS` or none at all is refused."""
    text = str(value if value is not None else "").strip().replace("，", ".")
    if not _HOURS_RE.match(text):
        raise DomainError(_l("Write the hours spent as a number, for example 2 or 1.5."))
    try:
        hours = Decimal(text)
    except InvalidOperation:
        raise DomainError(_l("Write the hours spent as a number, for example 2 or 1.5.")) from None
    minutes = int((hours * 60).to_integral_value())
    if minutes <= 0:
        raise DomainError(_l("The hours spent must be more than zero."))
    if hours > MAX_HOURS:
        raise DomainError(_l("One record covers at most %(n)s hours: record a long service in parts.", n=MAX_HOURS))
    return minutes


def record_service(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    kind: str,
    provider_unit: Department | None,
    provider_org: str | None,
    started_on: date | None,
    ended_on: date | None,
    hours: str | Decimal | None,
    outcome: str,
) -> ReliefService:
    """Record a service delivered to the case by ``provider_unit`` or the organisation ``provider_org``."""
    if not access.can_record_service(actor, ticket):
        raise NotAllowed(
            _l("Only the first-contact owner, a manager, or staff of a unit this case is referred to can record help.")
        )
    if ticket.status == "merged":
        raise DomainError(_l("This ticket was merged into another: record the service there."))
    if kind not in relief_rules().service_kinds:
        raise DomainError(_l("Choose the kind of service."))
    provider_org = checked_text(provider_org, None, required=False, limit=120)
    if provider_unit is not None and (not provider_unit.active or provider_unit.kind == "hotline"):
        provider_unit = None
    if (provider_unit is None) == (provider_org is None):
        raise DomainError(_l("Say who delivered the service: a unit, or the name of the contracted organisation."))
    if actor.role == "department" and provider_unit is not None and provider_unit.id not in access.user_units(actor):
        raise NotAllowed(_l("Your unit records the services it or a contracted organisation delivered."))
    if started_on is None:
        raise DomainError(_l("Give the day the service started."))
    ended_on = ended_on or started_on
    today = local_date(now)
    if ended_on < started_on:
        raise DomainError(_l("The service cannot end before it started."))
    if ended_on > today:
        raise DomainError(_l("Record a service once it was delivered: its days cannot be in the future."))
    if (today - started_on).days > MAX_DAYS_BACK:
        raise DomainError(_l("The service started more than a year ago: check the date."))
    minutes = parse_hours(hours)
    outcome = checked_text(outcome, _l("Say what came of the service."))
    service = ReliefService(
        ticket_id=ticket.id,
        kind=kind,
        provider_unit_id=provider_unit.id if provider_unit else None,
        provider_org=provider_org,
        started_on=started_on,
        ended_on=ended_on,
        minutes=minutes,
        outcome=outcome,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    db.session.add(service)
    ticket.updated_at = now
    db.session.flush()
    referral = access.relief_referral(actor, ticket)
    event = add_event(
        ticket,
        actor,
        "service_recorded",
        now,
        service=service.id,
        service_kind=kind,
        provider=provider_unit.name if provider_unit else provider_org,
        started_on=started_on.isoformat(),
        ended_on=ended_on.isoformat(),
        minutes=minutes,
        outcome=outcome,
    )
    event.referral_id = referral.id if referral else None
    return service


def services_of(ticket: Ticket) -> list[ReliefService]:
    """The case's services, the latest first."""
    return list(
        db.session.scalars(
            select(ReliefService)
            .where(ReliefService.ticket_id == ticket.id)
            .order_by(ReliefService.started_on.desc(), ReliefService.id.desc())
        )
    )
