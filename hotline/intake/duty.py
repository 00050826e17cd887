"""The duty roster's rules: what a line must name, and the audit of every change."""

from datetime import datetime

from flask_babel import lazy_gettext as _l

from hotline import audit
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.privacy import normalize_phone
from models.duty import DutyLine
from models.user import HOTLINE_ROLES, User


def save_duty_line(
    line: DutyLine | None,
    *,
    actor: User,
    now: datetime,
    user: User | None,
    label: str | None,
    phone: str | None,
    client_identity: str | None,
    position: int,
    on_duty: bool,
) -> DutyLine:
    """Create (``line`` None) or change a duty line; it rings a phone number or a Twilio Client, not both."""
    phone = (phone or "").strip()
    client_identity = (client_identity or "").strip() or None
    e164 = normalize_phone(phone) if phone else None
    if phone and e164 is None:
        raise DomainError(_l("%(phone)s is not a valid phone number.", phone=phone))
    if bool(e164) == bool(client_identity):
        raise DomainError(_l("Give either a phone number or a Twilio Client identity for the line."))
    if user is not None and (user.role not in HOTLINE_ROLES or not user.active):
        raise DomainError(_l("A duty line belongs to an active operator or manager."))
    label = (label or "").strip() or (user.display_name if user else None) or e164 or client_identity
    if line is None:
        line = DutyLine()
        db.session.add(line)
    line.user_id = user.id if user else None
    line.label = label[:120]
    line.phone = e164
    line.client_identity = client_identity
    line.position = position
    line.on_duty = on_duty
    line.updated_at = now
    db.session.flush()
    audit.record(
        "duty_line_saved",
        actor_id=actor.id,
        now=now,
        target=str(line.id),
        user=user.username if user else None,
        on_duty=on_duty,
        position=position,
    )
    return line
