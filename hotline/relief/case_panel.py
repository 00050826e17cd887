"""The papers panel (补齐手续) and the services panel (服务类救助): on the ticket page and on a unit's referral page.

Each shows everyone who sees the case what is on file, and its form only to those who may use it
(:mod:`hotline.access`). A refused form comes back through :func:`hotline.panels.handed_back`
(panels ``papers`` and ``services``, key ``upload`` and ``record``) and is shown as typed, open.
"""

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import access
from hotline.extensions import db
from hotline.forms import choices
from hotline.panels import handed_back
from hotline.relief import documents, services
from hotline.relief.case_forms import document_form, service_form
from hotline.relief.rules import relief_rules
from models.department import Department
from models.ticket import Ticket


def papers_panel(ticket: Ticket) -> dict:
    """The case's papers, its checklist, and the upload form for those who may add papers."""
    rules = relief_rules()
    override = handed_back("papers")
    return {
        "documents": documents.documents_of(ticket),
        "checklist": [(kind, rules.document_label(kind), present) for kind, present in documents.checklist(ticket)],
        "form": override.get("upload") or document_form(formdata=None),
        "open_form": next(iter(override), None),
        "can_upload": ticket.status != "merged" and access.can_upload_document(current_user, ticket),
        "max_mb": rules.max_document_bytes // (1024 * 1024),
        "label": rules.document_label,
    }


def provider_choices() -> list:
    """Units that deliver services: a department user's own and those below it; for the hotline every active unit."""
    stmt = select(Department).where(Department.active.is_(True), Department.kind != "hotline")
    if current_user.role == "department":
        stmt = stmt.where(Department.id.in_(access.user_units(current_user)))
    units = db.session.scalars(stmt.order_by(Department.level, Department.code))
    return choices([(0, _("— a contracted organisation —")), *((d.id, d.name) for d in units)])


def services_panel(ticket: Ticket) -> dict:
    """The services delivered to the case, and the form for those who may record one."""
    override = handed_back("services")
    form = override.get("record")
    if form is None:
        default = current_user.department_id if current_user.role == "department" else 0
        form = service_form(provider_choices(), formdata=None, data={"provider_unit_id": default})
    rows = services.services_of(ticket)
    return {
        "services": rows,
        "total_minutes": sum(s.minutes for s in rows),
        "form": form,
        "open_form": next(iter(override), None),
        "can_record": ticket.status != "merged" and access.can_record_service(current_user, ticket),
        "label": relief_rules().service_label,
    }
