"""Referral HTTP side: the hotline's referral panel actions, the department inbox and referral page."""

from datetime import UTC

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload

from hotline.actions import run_form_action
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.policy import catalogue
from hotline.referrals import forms, service
from hotline.security import require_role
from hotline.tickets import views as ticket_views
from hotline.timeutil import LOCAL_TZ, utcnow
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


def unit_choices(exclude_hotline: bool = True):
    units = db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.level, Department.code)
    )
    return [(d.id, d.name) for d in units if not (exclude_hotline and d.kind == "hotline")]


# --- the hotline side (forms live on the ticket page) --------------------------------------


def referral_forms(ticket: Ticket) -> dict:
    """Forms for the referral panel of the ticket page."""
    units = unit_choices()
    dispatch = forms.DispatchForm(data={"version": ticket.version})
    dispatch.department_id.choices = choices([(0, _("Choose…")), *units])
    suggestion = service.suggested_units(ticket, catalogue())
    active_ids = {r.department_id for r in ticket.referrals if r.is_active}
    pending = [(role, unit) for role, unit in suggestion if unit.id not in active_ids]
    if request.method == "GET" and pending:
        has_lead = any(r.role == "lead" and r.is_active for r in ticket.referrals)
        role, unit = pending[0]
        dispatch.department_id.data = unit.id
        dispatch.role.data = "assist" if has_lead else role
    per_referral = {}
    for r in ticket.referrals:
        v = {"version": r.version}
        decision = forms.ReturnDecisionForm(data=dict(v, redispatch_instructions=r.instructions), prefix=f"d{r.id}")
        decision.redispatch_to.choices = choices([(0, _("Nobody: keep it with the hotline")), *units])
        per_referral[r.id] = {
            "cancel": forms.ReasonForm(data=v, prefix=f"c{r.id}"),
            "return_decision": decision,
            "extension_decision": forms.ExtensionDecisionForm(data=v, prefix=f"e{r.id}"),
            "reopen": forms.ReasonForm(data=v, prefix=f"o{r.id}"),
        }
    return {"dispatch": dispatch, "suggestion": suggestion, "per_referral": per_referral}


def _load_referral(referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        abort(404)
    if current_user.role == "department" and referral not in service.visible_referrals(current_user, referral.ticket):
        abort(404)
    return referral


def _hotline_action(ticket: Ticket, form, action, message, *, form_key: str):
    """Run a hotline-side referral action; refusals re-render the ticket page with what was typed."""
    return run_form_action(
        form,
        action,
        render=lambda status, error: ticket_views.render_ticket(
            ticket, status=status, referral_override={form_key: form}, error=error
        ),
        done_url=url_for("tickets.show", number=ticket.number) + "#referrals",
        message=message,
    )


@bp.post("/tickets/<number>/referrals")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def dispatch(number: str):
    ticket = ticket_views.load_ticket(number)
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

    return _hotline_action(ticket, form, action, _("Referred."), form_key="dispatch")


@bp.post("/referrals/<int:referral_id>/cancel")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def cancel(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ReasonForm(prefix=f"c{referral.id}")
    return _hotline_action(
        referral.ticket,
        form,
        lambda: service.cancel_referral(
            referral, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        _("Referral cancelled."),
        form_key=f"cancel-{referral.id}",
    )


@bp.post("/referrals/<int:referral_id>/return-decision")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def return_decision(referral_id: int):
    referral = _load_referral(referral_id)
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

    return _hotline_action(referral.ticket, form, action, _("Decision recorded."), form_key=f"return-{referral.id}")


@bp.post("/referrals/<int:referral_id>/extension-decision")
@require_role("manager", not_found_for=("department",))
def extension_decision(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ExtensionDecisionForm(prefix=f"e{referral.id}")
    return _hotline_action(
        referral.ticket,
        form,
        lambda: service.decide_extension(
            referral,
            actor=current_user,
            now=utcnow(),
            approve=form.decision.data == "approve",
            comment=form.comment.data,
            expected_version=form.version.data,
        ),
        _("Decision recorded."),
        form_key=f"extension-{referral.id}",
    )


@bp.post("/referrals/<int:referral_id>/reopen")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def reopen(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ReasonForm(prefix=f"o{referral.id}")
    return _hotline_action(
        referral.ticket,
        form,
        lambda: service.reopen_referral(
            referral, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        _("Referral reopened."),
        form_key=f"reopen-{referral.id}",
    )


# --- the department side -------------------------------------------------------------------


@bp.get("/inbox")
@require_role("department")
def inbox():
    """The unit's referral inbox: overdue and P1 first, with the time left."""
    tab = request.args.get("tab", "new")
    if tab not in INBOX_TABS:
        tab = "new"
    units = service.unit_ids(current_user.department_id)
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
    return render_template(
        "referrals/inbox.html",
        page=page,
        tab=tab,
        counts=counts,
        now=now,
        department=current_user.department,
        ack_form=forms.AcknowledgeForm(),
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


def render_referral(referral: Referral, *, status=200, override=None, error=None, unmasked=False):
    unit_forms = _unit_forms(referral)
    if override:
        unit_forms.update(override)
    own = {r.id for r in service.visible_referrals(current_user, referral.ticket)}
    events = db.session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == referral.ticket_id, TicketEvent.referral_id.in_(own))
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).all()
    can_act = current_user.role == "department" and current_user.department_id == referral.department_id
    return (
        render_template(
            "referrals/show.html",
            referral=referral,
            ticket=referral.ticket,
            events=events,
            forms=unit_forms,
            open_form=next(iter(override)) if override else None,
            error=error,
            can_act=can_act,
            unmasked=unmasked,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/referrals/<int:referral_id>")
@require_role(*CASE_ROLES)
def show(referral_id: int):
    referral = _load_referral(referral_id)
    if current_user.role != "department":
        return redirect(url_for("tickets.show", number=referral.ticket.number) + f"#referral-{referral.id}")
    return render_referral(referral)


def _unit_action(referral: Referral, name: str, form, action, message):
    """Run a unit's action on its referral; refusals re-render the referral page with what was typed."""
    return run_form_action(
        form,
        action,
        render=lambda status, error: render_referral(referral, status=status, override={name: form}, error=error),
        done_url=url_for("referrals.show", referral_id=referral.id),
        message=message,
    )


@bp.post("/referrals/<int:referral_id>/acknowledge")
@require_role("department")
def acknowledge(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.AcknowledgeForm()
    return _unit_action(
        referral,
        "acknowledge",
        form,
        lambda: service.acknowledge(referral, actor=current_user, now=utcnow(), expected_version=form.version.data),
        _("Acknowledged. The case is yours to act on."),
    )


@bp.post("/referrals/<int:referral_id>/progress")
@require_role("department")
def progress(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ProgressForm()
    return _unit_action(
        referral,
        "progress",
        form,
        lambda: service.add_progress(
            referral, actor=current_user, now=utcnow(), text=form.text.data, contacted=form.contacted.data
        ),
        _("Progress noted."),
    )


@bp.post("/referrals/<int:referral_id>/return")
@require_role("department")
def request_return(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ReturnRequestForm()
    return _unit_action(
        referral,
        "return",
        form,
        lambda: service.request_return(
            referral,
            actor=current_user,
            now=utcnow(),
            reason=form.reason.data,
            comment=form.comment.data,
            expected_version=form.version.data,
        ),
        _("Return requested. The hotline will decide."),
    )


@bp.post("/referrals/<int:referral_id>/extension")
@require_role("department")
def request_extension(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ExtensionRequestForm()
    return _unit_action(
        referral,
        "extension",
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
        _("Extension requested. A manager will decide."),
    )


@bp.post("/referrals/<int:referral_id>/pass-on")
@require_role("department")
def pass_on(referral_id: int):
    referral = _load_referral(referral_id)
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

    return _unit_action(referral, "pass_on", form, action, _("Passed on."))


@bp.post("/referrals/<int:referral_id>/resolve")
@require_role("department")
def resolve(referral_id: int):
    referral = _load_referral(referral_id)
    form = forms.ResolveForm()
    return _unit_action(
        referral,
        "resolve",
        form,
        lambda: service.resolve(
            referral,
            actor=current_user,
            now=utcnow(),
            result=form.result.data,
            outcome=form.outcome.data,
            expected_version=form.version.data,
        ),
        _("Resolved. The hotline will call the person back."),
    )


@bp.post("/referrals/<int:referral_id>/unmask")
@require_role("department")
def unmask(referral_id: int):
    """Department staff see full numbers only after acknowledging, for a stated reason."""
    referral = _load_referral(referral_id)
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
