"""Referral HTTP side: the hotline's referral panel actions, the department inbox and referral page."""

from datetime import UTC

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload

from hotline import access
from hotline.access import load_referral, load_ticket
from hotline.actions import run_form_action
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.grid import visits
from hotline.grid.panel import photos_panel
from hotline.panels import Panel, compose, hand_back
from hotline.referrals import forms, service
from hotline.referrals.panel import unit_choices
from hotline.relief.case_panel import papers_panel, services_panel
from hotline.relief.panel import relief_panel
from hotline.security import require_role
from hotline.tickets.page import render_ticket
from hotline.timeutil import LOCAL_TZ, local_date, utcnow
from models.department import Department
from models.referral import ACTIVE_STATUSES, Referral
from models.ticket import URGENT_PRIORITIES, Ticket, TicketEvent
from models.user import CASE_ROLES, HOTLINE_ROLES

bp = Blueprint("referrals", __name__)
# The latest date an extension may reach (the request form's hint), and who asked for what waits on a
# referral (they are not offered the decision: four eyes).
bp.add_app_template_global(service.latest_extension, "latest_extension")
bp.add_app_template_global(service.requester_id, "referral_requester_id")


INBOX_TABS = {
    "new": ("dispatched",),
    "working": ("acknowledged", "in_progress"),
    "waiting": ("return_requested",),
    "done": ("resolved", "returned", "cancelled"),
}


# --- the hotline side (forms live on the ticket page, in the referral panel) ---------------


def _on_ticket_page(ticket: Ticket, key: str, form, current_version) -> dict:
    """How :func:`run_form_action` answers for a hotline-side referral form: the ticket page again with
    ``form`` handed back to the referral panel under ``key``, or back to the panel when done."""

    def render(status, error):
        hand_back("referrals", key, form)
        return render_ticket(ticket, status=status, error=error)

    return {
        "render": render,
        "done_url": url_for("tickets.show", number=ticket.number) + "#referrals",
        "current_version": current_version,
    }


@bp.post("/tickets/<number>/referrals")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def dispatch(number: str):
    ticket = load_ticket(number)
    form = forms.DispatchForm()
    form.department_id.choices = choices([(0, ""), *unit_choices()])

    def action():
        unit = db.session.get(Department, form.department_id.data)
        service.dispatch_referral(
            ticket,
            department=unit,
            role=form.role.data,
            actor=current_user,
            now=utcnow(),
            instructions=form.instructions.data,
            expected_version=form.version.data,
        )

    return run_form_action(
        form, action, message=_("Referred."), **_on_ticket_page(ticket, "dispatch", form, lambda: ticket.version)
    )


@bp.post("/referrals/<int:referral_id>/cancel")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def cancel(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ReasonForm(prefix=f"c{referral.id}")
    return run_form_action(
        form,
        lambda: service.cancel_referral(
            referral, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        message=_("Referral cancelled."),
        **_on_ticket_page(referral.ticket, f"cancel-{referral.id}", form, lambda: referral.version),
    )


@bp.post("/referrals/<int:referral_id>/return-decision")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def return_decision(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ReturnDecisionForm(prefix=f"d{referral.id}")
    form.redispatch_to.choices = choices([(0, ""), *unit_choices()])

    def action():
        target = db.session.get(Department, form.redispatch_to.data) if form.redispatch_to.data else None
        service.decide_return(
            referral,
            actor=current_user,
            now=utcnow(),
            accept=form.decision.data == "accept",
            comment=form.comment.data,
            redispatch_to=target,
            instructions=form.redispatch_instructions.data or "",
            expected_version=form.version.data,
        )

    return run_form_action(
        form,
        action,
        message=_("Decision recorded."),
        **_on_ticket_page(referral.ticket, f"return-{referral.id}", form, lambda: referral.version),
    )


@bp.post("/referrals/<int:referral_id>/extension-decision")
@require_role("manager", not_found_for=("department",))
def extension_decision(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ExtensionDecisionForm(prefix=f"e{referral.id}")
    return run_form_action(
        form,
        lambda: service.decide_extension(
            referral,
            actor=current_user,
            now=utcnow(),
            approve=form.decision.data == "approve",
            comment=form.comment.data,
            expected_version=form.version.data,
        ),
        message=_("Decision recorded."),
        **_on_ticket_page(referral.ticket, f"extension-{referral.id}", form, lambda: referral.version),
    )


@bp.post("/referrals/<int:referral_id>/reopen")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def reopen(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ReasonForm(prefix=f"o{referral.id}")
    return run_form_action(
        form,
        lambda: service.reopen_referral(
            referral, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        message=_("Referral reopened."),
        **_on_ticket_page(referral.ticket, f"reopen-{referral.id}", form, lambda: referral.version),
    )


# --- the department side -------------------------------------------------------------------


@bp.get("/inbox")
@require_role("department")
def inbox():
    """The unit's referral inbox: overdue and P1 first, with the time left."""
    tab = request.args.get("tab", "new")
    if tab not in INBOX_TABS:
        tab = "new"
    units = access.user_units(current_user)
    now = utcnow()
    base = select(Referral).join(Ticket, Referral.ticket_id == Ticket.id).where(Referral.department_id.in_(units))
    if tab == "waiting":
        base = base.where(
            (Referral.status == "return_requested")
            | ((Referral.extension_state == "requested") & Referral.status.in_(ACTIVE_STATUSES))
        )
    else:
        base = base.where(Referral.status.in_(INBOX_TABS[tab]))
    overdue = case((Referral.next_deadline_at < now, 0), else_=1)
    urgent = case((Ticket.priority.in_(URGENT_PRIORITIES), 0), else_=1)
    order = (
        (Referral.updated_at.desc(),)
        if tab == "done"
        else (overdue, urgent, Referral.next_deadline_at.is_(None), Referral.next_deadline_at, Referral.id)
    )
    page = db.paginate(
        base.options(joinedload(Referral.ticket), joinedload(Referral.department)).order_by(*order),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    counts = {}
    for key, statuses in INBOX_TABS.items():
        if key == "done":
            continue
        q = select(db.func.count(Referral.id)).where(Referral.department_id.in_(units))
        if key == "waiting":
            q = q.where(
                (Referral.status == "return_requested")
                | ((Referral.extension_state == "requested") & Referral.status.in_(ACTIVE_STATUSES))
            )
        else:
            q = q.where(Referral.status.in_(statuses))
        counts[key] = db.session.scalar(q)
    field_villages = access.visit_village_ids(current_user)
    return render_template(
        "referrals/inbox.html",
        overdue_visits=visits.overdue_plans(field_villages, now=now, limit=5),
        overdue_visit_count=visits.overdue_count(field_villages, now=now),
        today=local_date(now),
        page=page,
        tab=tab,
        counts=counts,
        now=now,
        department=current_user.department,
        ack_form=forms.AcknowledgeForm(),
        works_on=lambda referral: access.works_on_referral(current_user, referral),
    )


def _unit_forms(referral: Referral) -> dict:
    v = {"version": referral.version}
    pass_on = forms.PassOnForm(data=v)
    pass_on.department_id.choices = choices(
        [(0, _("Choose…"))] + [(d.id, d.name) for d in referral.department.children if d.active]
    )
    extension = forms.ExtensionRequestForm(data=v)
    return {
        "acknowledge": forms.AcknowledgeForm(data=v),
        "progress": forms.ProgressForm(),
        "return": forms.ReturnRequestForm(data=v),
        "extension": extension,
        "pass_on": pass_on,
        "resolve": forms.ResolveForm(data=v),
        "unmask": forms.UnmaskForm(),
    }


#: The panels of a unit's referral page (:mod:`hotline.panels`).
REFERRAL_PANELS = (
    Panel("relief", "main", "relief/_panel.html", relief_panel),
    Panel("papers", "main", "relief/_papers.html", papers_panel),
    Panel("services", "main", "relief/_services.html", services_panel),
    Panel("photos", "main", "grid/_photos_panel.html", photos_panel),
)


def render_referral(referral: Referral, *, status=200, override=None, error=None, unmasked=False):
    """A unit's referral page. ``override`` puts a submitted form of the unit's own actions (with
    what was typed and its errors) in place of the fresh one and opens it."""
    unit_forms = _unit_forms(referral)
    if override:
        unit_forms.update(override)
    own = {r.id for r in access.visible_referrals(current_user, referral.ticket)}
    events = db.session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == referral.ticket_id, TicketEvent.referral_id.in_(own))
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).all()
    return (
        render_template(
            "referrals/show.html",
            referral=referral,
            ticket=referral.ticket,
            events=events,
            forms=unit_forms,
            open_form=next(iter(override)) if override else None,
            error=error,
            can_act=access.works_on_referral(current_user, referral),
            panels=compose(REFERRAL_PANELS, referral.ticket),
            unmasked=unmasked,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/referrals/<int:referral_id>")
@require_role(*CASE_ROLES)
def show(referral_id: int):
    referral = load_referral(referral_id)
    if current_user.role != "department":
        return redirect(url_for("tickets.show", number=referral.ticket.number) + f"#referral-{referral.id}")
    return render_referral(referral)


def _on_referral_page(referral: Referral, name: str, form) -> dict:
    """How :func:`run_form_action` answers for a unit's form: the referral page again with ``form``
    open as typed, or back to the page when done."""
    return {
        "render": lambda status, error: render_referral(referral, status=status, override={name: form}, error=error),
        "done_url": url_for("referrals.show", referral_id=referral.id),
        "current_version": lambda: referral.version,
    }


@bp.post("/referrals/<int:referral_id>/acknowledge")
@require_role("department")
def acknowledge(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.AcknowledgeForm()
    return run_form_action(
        form,
        lambda: service.acknowledge(referral, actor=current_user, now=utcnow(), expected_version=form.version.data),
        message=_("Acknowledged. The case is yours to act on."),
        **_on_referral_page(referral, "acknowledge", form),
    )


@bp.post("/referrals/<int:referral_id>/progress")
@require_role("department")
def progress(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ProgressForm()
    return run_form_action(
        form,
        lambda: service.add_progress(
            referral, actor=current_user, now=utcnow(), text=form.text.data, contacted=form.contacted.data
        ),
        message=_("Progress noted."),
        **_on_referral_page(referral, "progress", form),
    )


@bp.post("/referrals/<int:referral_id>/return")
@require_role("department")
def request_return(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ReturnRequestForm()
    return run_form_action(
        form,
        lambda: service.request_return(
            referral,
            actor=current_user,
            now=utcnow(),
            reason=form.reason.data,
            comment=form.comment.data,
            expected_version=form.version.data,
        ),
        message=_("Return requested. The hotline will decide."),
        **_on_referral_page(referral, "return", form),
    )


@bp.post("/referrals/<int:referral_id>/extension")
@require_role("department")
def request_extension(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ExtensionRequestForm()
    return run_form_action(
        form,
        lambda: service.request_extension(
            referral,
            actor=current_user,
            now=utcnow(),
            reason=form.reason.data,
            # The form is filled in Asia/Shanghai time.
            until=form.until.data.replace(tzinfo=LOCAL_TZ).astimezone(UTC),
            expected_version=form.version.data,
        ),
        message=_("Extension requested. A manager will decide."),
        **_on_referral_page(referral, "extension", form),
    )


@bp.post("/referrals/<int:referral_id>/pass-on")
@require_role("department")
def pass_on(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.PassOnForm()
    form.department_id.choices = choices([(0, "")] + [(d.id, d.name) for d in referral.department.children])

    def action():
        unit = db.session.get(Department, form.department_id.data)
        service.pass_on(
            referral,
            actor=current_user,
            now=utcnow(),
            department=unit,
            instructions=form.instructions.data,
            expected_version=form.version.data,
        )

    return run_form_action(form, action, message=_("Passed on."), **_on_referral_page(referral, "pass_on", form))


@bp.post("/referrals/<int:referral_id>/resolve")
@require_role("department")
def resolve(referral_id: int):
    referral = load_referral(referral_id)
    form = forms.ResolveForm()
    return run_form_action(
        form,
        lambda: service.resolve(
            referral,
            actor=current_user,
            now=utcnow(),
            result=form.result.data,
            outcome=form.outcome.data,
            expected_version=form.version.data,
        ),
        message=_("Resolved. The hotline will call the person back."),
        **_on_referral_page(referral, "resolve", form),
    )


@bp.post("/referrals/<int:referral_id>/unmask")
@require_role("department")
def unmask(referral_id: int):
    """Department staff see full numbers only after acknowledging, for a stated reason."""
    referral = load_referral(referral_id)
    form = forms.UnmaskForm()
    if not form.validate_on_submit():
        return render_referral(referral, status=400, override={"unmask": form})
    try:
        service.unmask_for_unit(referral, actor=current_user, now=utcnow(), reason=form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        return render_referral(referral, status=exc.status_code, override={"unmask": form}, error=str(exc.message))
    db.session.commit()
    return render_referral(referral, unmasked=True)
