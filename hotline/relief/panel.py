"""The advance relief panel (先行救助): on the ticket page and on a unit's referral page.

What it shows depends on who reads it: the reliefs and their history to
everyone who sees the case, and only the forms the reader may use
(:mod:`hotline.access`). A refused form comes back through
:func:`hotline.panels.hand_back` under its key (``grant``, ``decision-<id>``,
``payment-<id>``, ``not_needed``, ``paperwork``) and is shown as typed, open.
"""

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import access
from hotline.escalation import clocks
from hotline.extensions import db
from hotline.forms import choices
from hotline.panels import handed_back
from hotline.relief import documents, forms, service
from hotline.relief.rules import relief_rules
from hotline.relief.summary import relief_summary
from models.department import Department
from models.ticket import OPEN_STATUSES, Ticket


def granting_unit_choices() -> list:
    """Units that may grant: a department user's own unit; for the hotline every active unit."""
    if current_user.role == "department":
        return choices([(current_user.department_id, current_user.department.name)])
    units = db.session.scalars(
        select(Department)
        .where(Department.active.is_(True), Department.level.in_(access.GRANTING_LEVELS), Department.kind != "hotline")
        .order_by(Department.level, Department.code)
    )
    return choices([(0, _("Choose…")), *((d.id, d.name) for d in units)])


def _default_unit(ticket: Ticket) -> int:
    """Preselect the unit most likely to grant: the user's own, else the caller's township (小额先行救助)."""
    if current_user.role == "department":
        return current_user.department_id
    contact = ticket.contact
    return contact.township_id if contact and contact.township_id else 0


def _fresh(form_class, prefix: str, version: int, **data):
    # formdata=None: on a re-rendered page the other forms must not pick up the submitted fields.
    return form_class(formdata=None, prefix=prefix, data={"version": version, **data})


def relief_panel(ticket: Ticket) -> dict:
    """What the relief panel shows the current user: reliefs, history, and the forms they may use."""
    user = current_user
    override = handed_back("relief")
    is_open = ticket.status in OPEN_STATUSES
    grant = override.get("grant") or _fresh(
        forms.GrantForm, "grant", ticket.version, granting_unit_id=_default_unit(ticket)
    )
    grant.granting_unit_id.choices = granting_unit_choices()
    summary = relief_summary(ticket)
    by_id = {row["id"]: row for row in summary["reliefs"]}
    rows = []
    for relief in ticket.reliefs:
        rows.append(
            {
                "relief": relief,
                "glance": by_id[relief.id],
                "decision": override.get(f"decision-{relief.id}")
                or _fresh(forms.DecisionForm, f"d{relief.id}", relief.version),
                "payment": override.get(f"payment-{relief.id}")
                or _fresh(forms.PaymentForm, f"p{relief.id}", relief.version),
                "can_decide": relief.status == "pending_approval" and access.can_decide_relief(user, relief),
                "can_pay": relief.status == "approved"
                and relief.paid_fen + by_id[relief.id]["held_fen"] < relief.amount_fen
                and access.can_pay_relief(user, relief, ticket),
            }
        )
    return {
        "rows": rows,
        "summary": summary,
        "events": service.relief_events(ticket),
        "limit_fen": service.limit_fen(),
        "conference_cap_fen": relief_rules().case_conference_cap_fen,
        "missing_papers": documents.missing_papers(ticket),
        "open_form": next(iter(override), None),
        "grant": grant,
        "not_needed": override.get("not_needed") or _fresh(forms.NotNeededForm, "nn", ticket.version),
        "paperwork": override.get("paperwork") or _fresh(forms.PaperworkForm, "pw", ticket.version),
        "can_grant": is_open and access.can_grant_relief(user, ticket),
        "can_not_needed": is_open
        and ticket.advance_relief_at is None
        and clocks.has_clock(ticket.priority, "advance_relief")
        and access.can_record_relief_not_needed(user, ticket),
        "can_paperwork": ticket.advance_relief_outcome == "granted"
        and ticket.paperwork_done_at is None
        and access.can_complete_paperwork(user, ticket)
        and (access.can_override_paperwork(user) or not documents.missing_papers(ticket)),
    }
