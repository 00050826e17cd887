"""The phone pages of field staff (blueprint ``grid``): report a case, follow my reports, household visits.

Built for a phone held in one hand: 375 px wide, one column, no sideways scrolling, buttons the width of
the screen. Views stay thin: authorise (``hotline.access``), call the service, commit, redirect.
"""

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import access
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.grid import forms, reports, visits
from hotline.grid.policy import visit_policy
from hotline.security import require_role
from hotline.timeutil import local_date, utcnow
from hotline.uploads import upload_dir
from models.external_report import ExternalReport
from models.ticket import Ticket
from models.visit import Visit, VisitPlan

bp = Blueprint("grid", __name__, url_prefix="/grid")

#: What a ticket's status means to the person who reported the case.
STATUS_HELP = {
    "new": _l("The hotline has it and an operator will take it up shortly."),
    "open": _l("An operator of the hotline is handling it."),
    "referred": _l("The hotline referred it to the units below, which are working on it."),
    "pending_callback": _l("Help was given; the hotline will call the person back."),
    "closed": _l("The case is closed."),
    "merged": _l("It was merged into another ticket about the same case."),
}
bp.add_app_template_global(access.is_field_staff, "is_field_staff")


def photo_dir() -> Path:
    """Where report photos are kept: the upload folder, never served but through :func:`photo`."""
    return upload_dir()


def _field_staff_only() -> None:
    if not access.is_field_staff(current_user):
        abort(403)


# --- report a case -----------------------------------------------------------------------------


def _report_form() -> forms.ReportForm:
    form = forms.ReportForm()
    plans = reports.households(current_user)
    form.household.choices = choices(
        [(0, _("Someone else (fill in below)"))] + [(p.id, _household_label(p)) for p in plans]
    )
    places = reports.place_choices(current_user)
    form.village_id.choices = choices([(0, _("Choose…"))] + [(d.id, d.name) for d in places])
    if request.method == "GET":
        home = reports.home_village(current_user)
        form.village_id.data = home.id if home is not None else 0
    return form


def _household_label(plan: VisitPlan) -> str:
    contact = plan.contact
    return f"{contact.name or _('(no name)')} · {plan.village.name}"


def _render_report(form, status: int = 200, error: str | None = None):
    return render_template(
        "grid/report.html", form=form, error=error, photo_max_bytes=visit_policy().photo_max_bytes
    ), status


@bp.route("/report", methods=["GET", "POST"])
@require_role("department")
def report():
    """报告: a case in under a minute: who, where, what happened, how urgent, a photo."""
    _field_staff_only()
    form = _report_form()
    if request.method == "GET":
        return _render_report(form)
    if not form.validate_on_submit():
        return _render_report(form, 400)
    photo = form.photo.data.read(visit_policy().photo_max_bytes + 1) if form.photo.data else None
    try:
        received = reports.report_case(
            reporter=current_user,
            now=utcnow(),
            text=form.text.data,
            urgency=form.urgency.data,
            photo_dir=photo_dir(),
            household_plan_id=form.household.data or None,
            name=form.name.data,
            phone=form.phone.data,
            village_id=form.village_id.data or None,
            address=form.address.data,
            photo=photo,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _render_report(form, exc.status_code, str(exc.message))
    if received.outcome == "added_to_open":
        flash(
            _(
                "Reported. The person already had an open case: added to ticket %(number)s.",
                number=received.ticket.number,
            ),
            "success",
        )
    else:
        flash(_("Reported. Ticket %(number)s is on the hotline's desk.", number=received.ticket.number), "success")
    return redirect(url_for("grid.report_status", report_id=received.report.id))


@bp.get("/reports")
@require_role("department")
def my_reports():
    """我的报告: the cases I reported (from the report page and from visits), newest first, with their status."""
    _field_staff_only()
    page = db.paginate(
        select(ExternalReport)
        .where(ExternalReport.reporter_id == current_user.id)
        .options(joinedload(ExternalReport.ticket).joinedload(Ticket.contact))
        .order_by(ExternalReport.received_at.desc(), ExternalReport.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template("grid/my_reports.html", page=page)


@bp.get("/reports/<int:report_id>")
@require_role("department")
def report_status(report_id: int):
    """One report as its reporter follows it: the ticket's number and status, and which units work on it."""
    report = access.load_own_report(report_id)
    return render_template(
        "grid/report_status.html",
        report=report,
        ticket=report.ticket,
        urgency_labels=forms.URGENCY_LABELS,
        status_help=STATUS_HELP,
    )


@bp.get("/reports/<int:report_id>/photo")
@require_role("operator", "manager", "department")
def photo(report_id: int):
    """A report's photo, for its reporter and whoever may see its ticket; 404 for anyone else."""
    report = access.load_report_photo(report_id)
    path = reports.photo_path(photo_dir(), report.extra["photo"])
    if path is None:
        abort(404)
    return send_file(path, mimetype=report.extra.get("photo_type", "application/octet-stream"))


# --- household visits ----------------------------------------------------------------------------


@bp.get("/visits")
@require_role("department")
def visit_list():
    """探访: the due and overdue visits of my villages (the most overdue first), or every household."""
    _field_staff_only()
    tab = request.args.get("tab", "due")
    if tab not in ("due", "all"):
        tab = "due"
    now = utcnow()
    villages = access.visit_village_ids(current_user)
    if tab == "due":
        stmt = visits.visit_list(villages, now=now)
    else:
        stmt = select(VisitPlan).where(VisitPlan.village_id.in_(villages), VisitPlan.active.is_(True))
        stmt = stmt.order_by(VisitPlan.next_due_on, VisitPlan.id)
    page = db.paginate(
        stmt.options(joinedload(VisitPlan.contact), joinedload(VisitPlan.village)),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "grid/visits.html",
        page=page,
        tab=tab,
        today=local_date(now),
        overdue=visits.overdue_count(villages, now=now),
        due_within=visit_policy().due_within_days,
    )


def _render_visit_form(plan: VisitPlan, form, *, status=200, error=None):
    history = db.session.scalars(
        select(Visit)
        .where(Visit.plan_id == plan.id)
        .options(joinedload(Visit.visitor), joinedload(Visit.ticket))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(5)
    ).all()
    return (
        render_template(
            "grid/visit.html", plan=plan, form=form, history=history, error=error, today=local_date(utcnow())
        ),
        status,
    )


@bp.route("/visits/<int:plan_id>", methods=["GET", "POST"])
@require_role("department")
def visit(plan_id: int):
    """Record a visit to a household: seen or not, how they are, what they need, difficulty found."""
    plan = access.load_visit_plan(plan_id)
    form = forms.VisitForm()
    if request.method == "GET":
        return _render_visit_form(plan, form)
    if not form.validate_on_submit():
        return _render_visit_form(plan, form, status=400)
    try:
        recorded = visits.record_visit(
            plan,
            visitor=current_user,
            now=utcnow(),
            seen=form.seen.data == "yes",
            condition=form.condition.data,
            needs=form.needs.data,
            difficulty=form.difficulty.data,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _render_visit_form(plan, form, status=exc.status_code, error=str(exc.message))
    flash(_("Visit recorded. The next one is due by %(date)s.", date=plan.next_due_on.isoformat()), "success")
    if recorded.difficulty:
        return redirect(url_for("grid.visit_record", visit_id=recorded.id))
    return redirect(url_for("grid.visit_list"))


@bp.get("/visit-records/<int:visit_id>")
@require_role("department")
def visit_record(visit_id: int):
    """A recorded visit; when it found difficulty and has no ticket yet, the one tap that makes one."""
    record = access.load_visit(visit_id)
    summary, description = visits.visit_summary(record)
    return render_template(
        "grid/visit_record.html",
        visit=record,
        plan=record.plan,
        summary=summary,
        description=description,
        form=forms.VisitTicketForm(),
    )


@bp.post("/visit-records/<int:visit_id>/ticket")
@require_role("department")
def visit_ticket(visit_id: int):
    """The one tap: the visit's difficulty becomes a ticket (source 探访发现); a second tap opens nothing new."""
    record = access.load_visit(visit_id)
    form = forms.VisitTicketForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        received = visits.visit_ticket(record, actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("grid.visit_record", visit_id=record.id))
    flash(_("Ticket %(number)s is on the hotline's desk.", number=received.ticket.number), "success")
    if not access.can_follow_report(current_user, received.report):  # a colleague's tap made it first
        return redirect(url_for("grid.visit_record", visit_id=record.id))
    return redirect(url_for("grid.report_status", report_id=received.report.id))
