"""Writing the audit trail for decisions that are not about a single ticket, and reading it in the UI's language.

Entries keep plain English keys (``login_failed``, ``reason=unknown_user``):
they are data for inspectors and tools. The admin's audit page shows them
through the labels below; a kind or key without a label shows as stored.
"""

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from hotline.extensions import db
from models.audit import AuditLog

#: Every kind of audit entry the application writes (tests/test_rough_edges.py checks the code for new ones).
KINDS = {
    "login": _l("Logged in"),
    "login_failed": _l("Login refused"),
    "login_unlocked": _l("Login throttle cleared"),
    "logout": _l("Logged out"),
    "signed_out": _l("Signed out everywhere"),
    "password_changed": _l("Password changed"),
    "user_created": _l("User created"),
    "user_updated": _l("User changed"),
    "department_created": _l("Unit created"),
    "department_updated": _l("Unit changed"),
    "duty_line_saved": _l("Duty line saved"),
    "calendar_year_saved": _l("Working calendar saved"),
    "calendar_year_removed": _l("Working calendar removed"),
    "report_exported": _l("Report exported"),
    "fund_created": _l("Relief fund set up"),
    "alerts_imported": _l("Monitoring alerts imported"),
    "sms_requeued": _l("Text message sent again"),
    "spool_replayed": _l("Spooled requests replayed"),
    "webhook_created": _l("Partner webhook created"),
    "webhook_updated": _l("Partner webhook changed"),
    "webhook_deactivated": _l("Partner webhook deactivated"),
    "webhook_activated": _l("Partner webhook activated"),
    "webhook_secret_replaced": _l("Partner webhook secret replaced"),
    "webhook_retried": _l("Webhook delivery sent again"),
    "document_viewed": _l("Case paper opened"),
    "relative_declared": _l("Relative declared"),
    "relative_withdrawn": _l("Relative declaration withdrawn"),
    "api_token_created": _l("API token created"),
    "api_token_revoked": _l("API token revoked"),
    "api_used": _l("API used"),
    "visit_plan_saved": _l("Visit plan saved"),
    "visit_recorded": _l("Household visit recorded"),
}

#: The keys of an entry's details.
DETAILS = {
    "reason": _l("Reason"),
    "client": _l("Client address"),
    "failures": _l("Failed attempts"),
    "throttled": _l("Throttled"),
    "role": _l("Role"),
    "department": _l("Unit"),
    "changes": _l("Changes"),
    "name": _l("Name"),
    "unit_kind": _l("Kind of unit"),
    "level": _l("Level"),
    "parent": _l("Parent unit"),
    "active": _l("Active"),
    "user": _l("User"),
    "on_duty": _l("On duty"),
    "position": _l("Ring order"),
    "format": _l("Format"),
    "filters": _l("Filters"),
    "rows": _l("Rows"),
    "range": _l("Period"),
    "from": _l("From"),
    "to": _l("Up to"),
    "unit": _l("Unit"),
    "priority": _l("Priority"),
    "category": _l("Category"),
    "township": _l("Township"),
    "by": _l("Grouped by"),
    "list": _l("List"),
    "source": _l("Source"),
    "days": _l("Days"),
    "year": _l("Year"),
    "entries": _l("Entries"),
    "before": _l("Before"),
    "holiday_days": _l("Holiday days"),
    "weekdays_off": _l("Weekdays off"),
    "workdays": _l("调休 working days"),
    "display_name": _l("Display name"),
    "department_id": _l("Unit"),
    "password_reset": _l("Password reset"),
    "url": _l("URL"),
    "events": _l("Changes to send"),
    "cancelled": _l("Deliveries cancelled"),
    "event": _l("State change"),
    "document": _l("Paper"),
    "document_kind": _l("Kind of paper"),
    "id_number": _l("ID number"),
    "relation": _l("Relation"),
    "created": _l("New tickets"),
    "duplicates": _l("Imported before"),
    "added_to_open": _l("Added to an open ticket"),
    "errors": _l("Rows with errors"),
    "prefix": _l("Token prefix"),
    "scopes": _l("Scopes"),
    "token": _l("Token"),
    "method": _l("Method"),
    "path": _l("Address"),
    "status": _l("Answer"),
    "ticket": _l("Ticket"),
    "outcome": _l("Outcome"),
    "referral": _l("Referral"),
    "items": _l("Items"),
    "replayed": _l("Answered again (Idempotency-Key)"),
    "rule": _l("Visit rule"),
    "due_on": _l("Due on"),
    "visit": _l("Visit"),
    "seen": _l("Seen in person"),
    "difficulty": _l("Difficulty found"),
}

#: Stored values that are words, not data.
VALUES = {
    "unknown_user": _l("unknown user"),
    "password": _l("wrong password"),
    "throttled": _l("too many failures on the account"),
    "client_limited": _l("too many failures from this address"),
    "inactive": _l("account deactivated"),
    True: _l("yes"),
    False: _l("no"),
}


def record(kind: str, *, actor_id: int | None, now: datetime, target: str | None = None, **payload) -> AuditLog:
    """Append one audit entry in the current transaction (the caller commits)."""
    entry = AuditLog(kind=kind, actor_id=actor_id, target=target, payload=payload, at=now)
    db.session.add(entry)
    return entry


def _pair(key, value) -> str:
    return _("%(label)s: %(text)s", label=DETAILS.get(key, key), text=_value(value))


def _value(value) -> str:
    if isinstance(value, dict):
        return _("; ").join(_pair(k, v) for k, v in value.items())
    if isinstance(value, list | tuple) and len(value) == 2:  # a change: [before, after]
        return f"{_value(value[0])} → {_value(value[1])}"
    if isinstance(value, list | tuple):
        return _(", ").join(_value(v) for v in value)
    if isinstance(value, bool | str) and value in VALUES:
        return str(VALUES[value])
    return "—" if value is None else str(value)


def describe(payload: dict | None) -> list[str]:
    """An entry's details in the UI's language, one text per key, nested filters and changes spelled out."""
    return [_pair(key, value) for key, value in (payload or {}).items() if value is not None]
