"""Advance relief over HTTP: the panel on the ticket page and on a unit's referral page.

The panel's forms are built by :func:`relief_panel`, which the templates call
(it is a template global), so the ticket and referral pages need no knowledge
of relief. A refused form is handed to the panel through ``g.relief_override``
and the page is rendered again with what was typed and the message.

Department staff reach only tickets referred to their unit (404 otherwise,
like every ticket URL) and come back to their referral page.
"""

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from hotline import labels
from hotline.errors import DomainError, StaleError
from hotline.escalation import clocks
from hotline.extensions import db
from hotline.forms import choices
from hotline.referrals import views as referral_views
from hotline.referrals.service import visible_referrals
from hotline.relief import forms, service
from hotline.security import require_role
from hotline.tickets import views as ticket_views
from hotline.timeutil import utcnow
from models.department import Department
from models.referral import Referral
from models.relief import AdvanceRelief
from models.ticket import OPEN_STATUSES, Ticket
from models.user import CASE_ROLES, HOTLINE_ROLES

bp = Blueprint("relief", __name__)


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    return service.format_yuan(fen)


@bp.app_context_processor
def inject_relief_panel() -> dict:
    return {"relief_panel": relief_panel}


# --- the panel -----------------------------------------------------------------------------


def _unit_choices() -> list:
    """Units that may grant: a department user's own unit; for the hotline every active unit."""
    if current_user.role == "department":
        return choices([(current_user.department_id, current_user.department.name)])
    units = db.session.scalars(
        select(Department)
        .where(Department.active.is_(True), Department.level.in_(service.GRANTING_LEVELS), Department.kind != "hotline")
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
    override = g.get("relief_override") or {}
    is_open = ticket.status in OPEN_STATUSES
    grant = override.get("grant") or _fresh(
        forms.GrantForm, "grant", ticket.version, granting_unit_id=_default_unit(ticket)
    )
    grant.granting_unit_id.choices = _unit_choices()
    rows = []
    for relief in ticket.reliefs:
        rows.append(
            {
                "relief": relief,
                "decision": override.get(f"decision-{relief.id}")
                or _fresh(forms.DecisionForm, f"d{relief.id}", relief.version),
                "payment": override.get(f"payment-{relief.id}")
                or _fresh(forms.PaymentForm, f"p{relief.id}", relief.version),
                "can_decide": relief.status == "pending_approval" and service.can_decide(relief, user),
                "can_pay": relief.status == "approved"
                and relief.paid_fen < relief.amount_fen
                and service.can_pay(relief, ticket, user),
            }
        )
    return {
        "rows": rows,
        "events": service.relief_events(ticket),
        "limit_fen": service.limit_fen(),
        "open_form": next(iter(override), None),
        "grant": grant,
        "not_needed": override.get("not_needed") or _fresh(forms.NotNeededForm, "nn", ticket.version),
        "paperwork": override.get("paperwork") or _fresh(forms.PaperworkForm, "pw", ticket.version),
        "can_grant": is_open and service.can_grant(ticket, user),
        "can_not_needed": is_open
        and ticket.advance_relief_at is None
        and clocks.has_clock(ticket.priority, "advance_relief")
        and service.can_record_not_needed(ticket, user),
        "can_paperwork": ticket.advance_relief_outcome == "granted"
        and ticket.paperwork_done_at is None
        and service.can_complete_paperwork(ticket, user),
    }


# --- loading and answering -----------------------------------------------------------------


def _may_see(ticket: Ticket) -> bool:
    return current_user.role in HOTLINE_ROLES or bool(visible_referrals(current_user, ticket))


def _load_ticket(number: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None or not _may_see(ticket):
        abort(404)
    return ticket


def _load_relief(relief_id: int) -> tuple[AdvanceRelief, Ticket]:
    relief = db.session.get(AdvanceRelief, relief_id)
    if relief is None:
        abort(404)
    ticket = service.ticket_of(relief)
    if not _may_see(ticket):
        abort(404)
    return relief, ticket


def _unit_referral(ticket: Ticket) -> Referral:
    """The department user's page for this ticket: their own unit's newest referral."""
    visible = visible_referrals(current_user, ticket)
    own = [r for r in visible if r.department_id == current_user.department_id] or visible
    return own[-1]


def _page(ticket: Ticket, status: int, error: str | None = None):
    if current_user.role == "department":
        return referral_views.render_referral(_unit_referral(ticket), status=status, error=error)
    return ticket_views.render_ticket(ticket, status=status, error=error)


def _back(ticket: Ticket) -> str:
    if current_user.role == "department":
        return url_for("referrals.show", referral_id=_unit_referral(ticket).id) + "#relief"
    return url_for("tickets.show", number=ticket.number) + "#relief"


def _run(ticket: Ticket, name: str, form, action, versioned):
    """Validate ``form``, run ``action()`` (it returns the success message), commit and go back.

    Refused: the page again, the form as typed and open, the message on top.
    After a stale form the version is brought up to date, so sending it again
    (having seen what changed) goes through.
    """
    if not form.validate_on_submit():
        g.relief_override = {name: form}
        return _page(ticket, 400)
    try:
        message = action()
        db.session.commit()
    except (StaleError, StaleDataError):
        db.session.rollback()
        form.version.data = versioned().version
        form.version.raw_data = [str(form.version.data)]
        g.relief_override = {name: form}
        return _page(ticket, 409, str(labels.STALE))
    except DomainError as exc:
        db.session.rollback()
        g.relief_override = {name: form}
        return _page(ticket, exc.status_code, str(exc.message))
    flash(message, "success")
    return redirect(_back(ticket))


# --- actions -------------------------------------------------------------------------------


@bp.post("/tickets/<number>/relief")
@require_role(*CASE_ROLES)
def grant(number: str):
    ticket = _load_ticket(number)
    form = forms.GrantForm(prefix="grant")
    form.granting_unit_id.choices = _unit_choices()

    def action():
        relief = service.grant_relief(
            ticket,
            actor=current_user,
            now=utcnow(),
            kind=form.kind.data,
            amount_yuan=form.amount.data,
            granting_unit=db.session.get(Department, form.granting_unit_id.data),
            reason=form.reason.data,
            expected_version=form.version.data,
        )
        if relief.status == "approved":
            return _("Advance relief of %(amount)s granted.", amount=service.format_yuan(relief.amount_fen))
        limit, total = service.limit_fen(), service.case_total_fen(ticket)
        if relief.amount_fen > limit:
            return _(
                "%(amount)s is %(over)s above the limit of %(limit)s without approval: a manager decides (一事一议)."
                " Managers were told.",
                amount=service.format_yuan(relief.amount_fen),
                over=service.format_yuan(relief.amount_fen - limit),
                limit=service.format_yuan(limit),
            )
        return _(
            "With %(amount)s this case would receive %(total)s in all, %(over)s above the limit of %(limit)s"
            " without approval: a manager decides (一事一议). Managers were told.",
            amount=service.format_yuan(relief.amount_fen),
            total=service.format_yuan(total),
            over=service.format_yuan(total - limit),
            limit=service.format_yuan(limit),
        )

    return _run(ticket, "grant", form, action, lambda: ticket)


@bp.post("/relief/<int:relief_id>/decision")
@require_role(*CASE_ROLES)
def decision(relief_id: int):
    relief, ticket = _load_relief(relief_id)
    form = forms.DecisionForm(prefix=f"d{relief.id}")

    def action():
        approve = form.decision.data == "approve"
        service.decide_relief(
            relief,
            actor=current_user,
            now=utcnow(),
            approve=approve,
            comment=form.comment.data,
            expected_version=form.version.data,
        )
        return _("Relief approved.") if approve else _("Relief rejected.")

    return _run(ticket, f"decision-{relief.id}", form, action, lambda: relief)


@bp.post("/relief/<int:relief_id>/payment")
@require_role(*CASE_ROLES)
def payment(relief_id: int):
    relief, ticket = _load_relief(relief_id)
    form = forms.PaymentForm(prefix=f"p{relief.id}")

    def action():
        paid = service.record_payment(
            relief,
            actor=current_user,
            now=utcnow(),
            amount_yuan=form.amount.data,
            note=form.note.data,
            expected_version=form.version.data,
        )
        return _("Payment of %(amount)s recorded.", amount=service.format_yuan(paid.amount_fen))

    return _run(ticket, f"payment-{relief.id}", form, action, lambda: relief)


@bp.post("/tickets/<number>/relief-not-needed")
@require_role(*CASE_ROLES)
def not_needed(number: str):
    ticket = _load_ticket(number)
    form = forms.NotNeededForm(prefix="nn")

    def action():
        service.relief_not_needed(
            ticket, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        )
        return _("Recorded: no advance relief needed. Its clock has stopped.")

    return _run(ticket, "not_needed", form, action, lambda: ticket)


@bp.post("/tickets/<number>/paperwork-done")
@require_role(*CASE_ROLES)
def paperwork_done(number: str):
    ticket = _load_ticket(number)
    form = forms.PaperworkForm(prefix="pw")

    def action():
        service.complete_paperwork(
            ticket, actor=current_user, now=utcnow(), note=form.note.data, expected_version=form.version.data
        )
        return _("Paperwork recorded as complete.")

    return _run(ticket, "paperwork", form, action, lambda: ticket)
