"""Advance relief over HTTP: the actions of the relief panel, on the ticket page and on a unit's referral page.

The panel itself is built by :func:`hotline.relief.panel.relief_panel`. A
refused form is handed back to the panel (:func:`hotline.panels.hand_back`)
and the page the user came from is rendered again with what was typed and the
message.

Department staff reach only tickets referred to their unit (404 otherwise,
like every ticket URL) and come back to their referral page.
"""

from flask import Blueprint, url_for
from flask_babel import gettext as _
from flask_login import current_user

from hotline import access
from hotline.access import load_case_ticket, load_relief
from hotline.actions import run_form_action
from hotline.extensions import db
from hotline.panels import hand_back
from hotline.referrals.views import render_referral
from hotline.relief import forms, service
from hotline.relief.panel import granting_unit_choices
from hotline.relief.rules import relief_rules
from hotline.security import require_role
from hotline.tickets.page import render_ticket
from hotline.timeutil import utcnow
from models.department import Department
from models.fund import FundPayoutRequest
from models.ticket import Ticket
from models.user import CASE_ROLES

bp = Blueprint("relief", __name__)


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    return service.format_yuan(fen)


# --- answering ----------------------------------------------------------------------------


def _on_case_page(ticket: Ticket, key: str, form, versioned) -> dict:
    """How :func:`run_form_action` answers for a relief form: the page the user came from (a unit's
    referral page, or the ticket page) again with ``form`` handed back to the relief panel under
    ``key``, or back to that page's relief panel when done. ``versioned()`` is the record the form's
    version is of (the ticket, or the relief)."""

    def render(status, error):
        hand_back("relief", key, form)
        if current_user.role == "department":
            return render_referral(access.unit_referral(current_user, ticket), status=status, error=error)
        return render_ticket(ticket, status=status, error=error)

    if current_user.role == "department":
        done = url_for("referrals.show", referral_id=access.unit_referral(current_user, ticket).id)
    else:
        done = url_for("tickets.show", number=ticket.number)
    return {"render": render, "done_url": done + "#relief", "current_version": lambda: versioned().version}


# --- actions -------------------------------------------------------------------------------


@bp.post("/tickets/<number>/relief")
@require_role(*CASE_ROLES)
def grant(number: str):
    ticket = load_case_ticket(number)
    form = forms.GrantForm(prefix="grant")
    form.granting_unit_id.choices = granting_unit_choices()

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
            case_conference_ref=form.case_conference_ref.data,
        )
        return " ".join(filter(None, (_granted(relief, ticket), integrity_notice(relief))))

    return run_form_action(form, action, **_on_case_page(ticket, "grant", form, lambda: ticket))


def integrity_notice(relief) -> str | None:
    """The repeat-grant warning of a grant, for the person who just made it (it is kept on the grant)."""
    repeats = (relief.integrity or {}).get("repeats") or []
    if not repeats:
        return None
    return _(
        "Warning: this ID number was granted relief on %(tickets)s within the last %(days)s days. "
        "The warning is recorded on the grant and on the timeline.",
        tickets="、".join(r["ticket"] for r in repeats),
        days=relief_rules().repeat_days,
    )


def _granted(relief, ticket) -> str:
    """What the grant came to: approved, or waiting for a manager and why."""
    if relief.status == "approved":
        return _("Advance relief of %(amount)s granted.", amount=service.format_yuan(relief.amount_fen))
    if relief.integrity and relief.integrity.get("requester_is_relative"):
        return _(
            "You declared this person a relative: %(amount)s waits for another manager's decision (关系保).",
            amount=service.format_yuan(relief.amount_fen),
        )
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


@bp.post("/relief/<int:relief_id>/decision")
@require_role(*CASE_ROLES)
def decision(relief_id: int):
    relief, ticket = load_relief(relief_id)
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

    return run_form_action(form, action, **_on_case_page(ticket, f"decision-{relief.id}", form, lambda: relief))


@bp.post("/relief/<int:relief_id>/payment")
@require_role(*CASE_ROLES)
def payment(relief_id: int):
    relief, ticket = load_relief(relief_id)
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
        if isinstance(paid, FundPayoutRequest):
            return _(
                "%(amount)s is more than %(fund)s holds: the payment is held until the fund's manager releases it.",
                amount=service.format_yuan(paid.amount_fen),
                fund=paid.fund.name,
            )
        return _("Payment of %(amount)s recorded.", amount=service.format_yuan(paid.amount_fen))

    return run_form_action(form, action, **_on_case_page(ticket, f"payment-{relief.id}", form, lambda: relief))


@bp.post("/tickets/<number>/relief-not-needed")
@require_role(*CASE_ROLES)
def not_needed(number: str):
    ticket = load_case_ticket(number)
    form = forms.NotNeededForm(prefix="nn")

    def action():
        service.relief_not_needed(
            ticket, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        )
        return _("Recorded: no advance relief needed. Its clock has stopped.")

    return run_form_action(form, action, **_on_case_page(ticket, "not_needed", form, lambda: ticket))


@bp.post("/tickets/<number>/paperwork-done")
@require_role(*CASE_ROLES)
def paperwork_done(number: str):
    ticket = load_case_ticket(number)
    form = forms.PaperworkForm(prefix="pw")

    def action():
        service.complete_paperwork(
            ticket, actor=current_user, now=utcnow(), note=form.note.data, expected_version=form.version.data
        )
        return _("Paperwork recorded as complete.")

    return run_form_action(form, action, **_on_case_page(ticket, "paperwork", form, lambda: ticket))
