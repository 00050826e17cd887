"""Papers, services and integrity over HTTP: uploads and downloads, services, declared relatives, the audit list.

The papers and services panels post here; a refused form is handed back to its panel and the page the
user came from (the ticket page, or a unit's referral page) is rendered again with what was typed.
A paper is downloaded only through :func:`document`, which checks who may see the ticket and audits
the reading; it is always an attachment, never shown inline.
"""

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import select

from hotline import access
from hotline.access import load_case_ticket, load_document
from hotline.actions import run_form_action
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.panels import hand_back
from hotline.referrals.views import render_referral
from hotline.relief import documents, integrity, services
from hotline.relief.case_forms import RelativeForm, WithdrawRelativeForm, document_form, service_form
from hotline.relief.case_panel import provider_choices
from hotline.relief.rules import relief_rules
from hotline.relief.service import limit_fen
from hotline.request_limits import LARGE_BODIES
from hotline.security import require_role
from hotline.tickets.page import render_ticket
from hotline.timeutil import utcnow
from models.department import Department
from models.relative import DeclaredRelative
from models.ticket import Ticket
from models.user import CASE_ROLES

bp = Blueprint("casework", __name__)

#: Room for the upload form's other fields and the multipart framing, beside the file itself.
FORM_OVERHEAD = 64 * 1024


def _upload_limit() -> tuple[int, str]:
    return relief_rules().max_document_bytes + FORM_OVERHEAD, documents.too_large_message()


LARGE_BODIES["casework.upload"] = _upload_limit


@bp.app_template_global()
def paper_label(code: str | None) -> str:
    """A document kind's name (relief_rules.toml), for the timeline."""
    return relief_rules().document_label(code or "")


@bp.app_template_global()
def service_label(code: str | None) -> str:
    """A service kind's name (relief_rules.toml), for the timeline."""
    return relief_rules().service_label(code or "")


def _on_case_page(ticket: Ticket, panel: str, key: str, form) -> dict:
    """How :func:`run_form_action` answers for a panel's form: the page the user came from again, with
    ``form`` handed back to ``panel``, or back to that page's panel when done."""

    def render(status, error):
        hand_back(panel, key, form)
        if current_user.role == "department":
            return render_referral(access.unit_referral(current_user, ticket), status=status, error=error)
        return render_ticket(ticket, status=status, error=error)

    if current_user.role == "department":
        done = url_for("referrals.show", referral_id=access.unit_referral(current_user, ticket).id)
    else:
        done = url_for("tickets.show", number=ticket.number)
    return {"render": render, "done_url": f"{done}#{panel}"}


# --- papers --------------------------------------------------------------------------------


@bp.post("/tickets/<number>/documents")
@require_role(*CASE_ROLES)
def upload(number: str):
    ticket = load_case_ticket(number)
    form = document_form()

    def action():
        upload = form.file.data
        had_paperwork = ticket.paperwork_done_at is not None
        document = documents.upload_document(
            ticket,
            actor=current_user,
            now=utcnow(),
            kind=form.kind.data,
            stream=upload.stream if upload else None,
            filename=upload.filename if upload else None,
        )
        if not had_paperwork and ticket.paperwork_done_at is not None:
            return _(
                "%(name)s added. Every paper of the checklist is on file: the paperwork is complete.",
                name=document.display_name,
            )
        return _("%(name)s added to the case.", name=document.display_name)

    return run_form_action(form, action, **_on_case_page(ticket, "papers", "upload", form))


@bp.get("/documents/<int:document_id>")
@require_role(*CASE_ROLES)
def document(document_id: int):
    paper, ticket = load_document(document_id)
    try:
        path = documents.read_document(paper, ticket, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        abort(404, description=str(exc.message))
    db.session.commit()  # the reading is audited before the file leaves
    response = send_file(
        path,
        mimetype=paper.content_type,
        as_attachment=True,
        download_name=paper.display_name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- services ------------------------------------------------------------------------------


@bp.post("/tickets/<number>/services")
@require_role(*CASE_ROLES)
def record_service(number: str):
    ticket = load_case_ticket(number)
    form = service_form(provider_choices())

    def action():
        unit_id = form.provider_unit_id.data
        service = services.record_service(
            ticket,
            actor=current_user,
            now=utcnow(),
            kind=form.kind.data,
            provider_unit=db.session.get(Department, unit_id) if unit_id else None,
            provider_org=form.provider_org.data,
            started_on=form.started_on.data,
            ended_on=form.ended_on.data,
            hours=form.hours.data,
            outcome=form.outcome.data,
        )
        return _("%(service)s recorded.", service=relief_rules().service_label(service.kind))

    return run_form_action(form, action, **_on_case_page(ticket, "services", "record", form))


# --- declared relatives --------------------------------------------------------------------


def _relatives_page(form=None, *, status=200, error=None):
    page = db.paginate(
        integrity.declarations_of(current_user),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return (
        render_template(
            "relief/relatives.html",
            page=page,
            form=form or RelativeForm(formdata=None),
            withdraw=WithdrawRelativeForm(formdata=None),
            error=error,
        ),
        status,
    )


@bp.route("/relatives", methods=["GET", "POST"])
@require_role(*CASE_ROLES)
def relatives():
    if request.method == "GET":
        return _relatives_page()
    form = RelativeForm()
    return run_form_action(
        form,
        lambda: integrity.declare_relative(
            actor=current_user,
            now=utcnow(),
            id_number=form.id_number.data,
            name=form.name.data,
            relation=form.relation.data,
        ),
        message=_("Relative declared: relief to them now needs another person's approval."),
        render=lambda status, error: _relatives_page(form, status=status, error=error),
        done_url=url_for("casework.relatives"),
    )


@bp.post("/relatives/<int:declaration_id>/withdraw")
@require_role(*CASE_ROLES)
def withdraw_relative(declaration_id: int):
    declaration = db.session.get(DeclaredRelative, declaration_id)
    if declaration is None or declaration.user_id != current_user.id:
        abort(404)
    form = WithdrawRelativeForm()
    return run_form_action(
        form,
        lambda: integrity.withdraw_relative(declaration, actor=current_user, now=utcnow()),
        message=_("Declaration withdrawn."),
        render=lambda status, error: _relatives_page(status=status, error=error or _("Tick the box to confirm.")),
        done_url=url_for("casework.relatives"),
    )


# --- the managers' audit list --------------------------------------------------------------


class RowPagination(SelectPagination):
    """``db.paginate`` for a SELECT of several columns (the stock one keeps only the first of each row)."""

    def _query_items(self) -> list:
        select_ = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select_).all())


@bp.get("/relief/audit")
@require_role("manager")
def audit():
    name = request.args.get("list", "repeats")
    if name not in integrity.AUDIT_LISTS:
        abort(404)
    now = utcnow()
    paging = {
        "select": integrity.audit_list(name, now=now, limit_fen=limit_fen()),
        "page": request.args.get("page", 1, type=int),
        "per_page": current_app.config["PAGE_SIZE"],
        "error_out": False,
    }
    page = RowPagination(session=db.session(), **paging) if name == "pairs" else db.paginate(**paging)
    tickets = {}
    if name in ("repeats", "near_limit") and page.items:
        ids = {r.ticket_id for r in page.items}
        tickets = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    rules = relief_rules()
    return render_template(
        "relief/audit.html",
        name=name,
        lists=integrity.AUDIT_LISTS,
        page=page,
        tickets=tickets,
        now=now,
        limit_fen=limit_fen(),
        near_percent=rules.near_limit_percent,
        repeat_days=rules.repeat_days,
    )
