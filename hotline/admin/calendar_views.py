"""Admin pages of the working calendar: the years entered, and entering or editing one (preview, then save)."""

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange
from wtforms.widgets import TextInput

from hotline.admin import calendar as service
from hotline.errors import DomainError
from hotline.escalation.calendar import PACKAGE_YEARS
from hotline.escalation.sla import calendar_changed, working_calendar
from hotline.extensions import db
from hotline.security import require_role
from hotline.timeutil import local_date, utcnow
from models.calendar import CalendarYear

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin/calendar")


class CalendarYearForm(FlaskForm):
    year = IntegerField(
        _l("Year"),
        widget=TextInput(),  # styled like the other fields; inputmode="numeric" brings the digits keyboard
        validators=[
            DataRequired(_l("Enter the year.")),
            NumberRange(service.FIRST_YEAR, service.LAST_YEAR, _l("Enter a year from 2000 to 2100.")),
        ],
    )
    source = StringField(
        _l("Source (the notice's title or number)"),
        validators=[DataRequired(_l("Name the notice the dates come from.")), Length(max=service.MAX_SOURCE)],
    )
    entries = TextAreaField(_l("Holidays and 调休 working days, one a line"))
    #: When the year was last saved as this form saw it ("" for a year not entered yet).
    loaded = HiddenField()


class RemoveYearForm(FlaskForm):
    loaded = HiddenField(validators=[DataRequired()])


def _year_status(year: int) -> str:
    """Who tells the calendar about ``year``: entered here, calendar.toml, the package, or nobody."""
    if db.session.get(CalendarYear, year) is not None:
        return "entered"
    if year in working_calendar().overrides:
        return "toml"
    return "package" if year in PACKAGE_YEARS else "unknown"


@bp.get("")
@require_role("admin")
def years():
    this_year = local_date(utcnow()).year
    upcoming = [(y, _year_status(y)) for y in (this_year, this_year + 1)]
    return render_template("admin/calendar.html", years=service.saved_years(), upcoming=upcoming)


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:year>", methods=["GET", "POST"])
@require_role("admin")
def edit(year: int | None = None):
    saved = db.session.get(CalendarYear, year) if year is not None else None
    if year is not None and saved is None:
        abort(404)
    form = CalendarYearForm()
    if request.method == "GET":
        if saved is not None:
            form.year.data = saved.year
            form.source.data = saved.source
            form.entries.data = service.entries_text(saved)
            form.loaded.data = saved.updated_at.isoformat()
        else:
            form.year.data = request.args.get("year", type=int) or local_date(utcnow()).year + 1
        return _form(form, saved, status=200)
    if saved is not None:
        form.year.data = saved.year  # the year of a saved entry never changes: open another year instead
    if not form.validate_on_submit():
        return _form(form, saved, status=400)
    try:
        loaded = datetime.fromisoformat(form.loaded.data) if form.loaded.data else None
    except ValueError:
        abort(400)
    if saved is None:
        other = db.session.get(CalendarYear, form.year.data)
        if other is not None:
            message = _("%(year)s is entered already: edit it instead.", year=form.year.data)
            return _form(form, saved, status=409, error=message, existing=other)
    entries, errors = service.parse_entries(form.entries.data, form.year.data)
    if errors:
        form.entries.errors = list(errors)
        return _form(form, saved, status=400)
    if "save" not in request.form:
        return _form(form, saved, status=200, preview=_preview(form.year.data, entries))
    try:
        service.save_year(
            actor=current_user,
            now=utcnow(),
            year=form.year.data,
            source=form.source.data,
            text=form.entries.data,
            expected_updated_at=loaded,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _form(form, saved, status=exc.status_code, error=str(exc.message))
    calendar_changed()
    message = _("The working calendar for %(year)s is saved; deadlines use it from now on.", year=form.year.data)
    flash(message, "success")
    return redirect(url_for("admin_calendar.years"))


@bp.post("/<int:year>/remove")
@require_role("admin")
def remove(year: int):
    saved = db.session.get(CalendarYear, year) or abort(404)
    form = RemoveYearForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        loaded = datetime.fromisoformat(form.loaded.data)
    except ValueError:
        abort(400)
    try:
        service.remove_year(actor=current_user, now=utcnow(), year=year, expected_updated_at=loaded)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        edit_form = CalendarYearForm(formdata=None)
        edit_form.year.data, edit_form.source.data = saved.year, saved.source
        edit_form.entries.data, edit_form.loaded.data = service.entries_text(saved), saved.updated_at.isoformat()
        return _form(edit_form, saved, status=exc.status_code, error=str(exc.message))
    calendar_changed()
    flash(
        _("%(year)s is removed: calendar.toml and the chinesecalendar package count for it again.", year=year),
        "success",
    )
    return redirect(url_for("admin_calendar.years"))


def _form(form, saved, *, status: int, error=None, preview=None, existing=None):
    page = render_template(
        "admin/calendar_form.html",
        form=form,
        saved=saved,
        preview=preview,
        error=error,
        existing=existing,
        remove_form=RemoveYearForm(formdata=None, loaded=saved.updated_at.isoformat()) if saved else None,
    )
    return page, status


def _preview(year: int, entries: list[service.Entry]) -> dict:
    """What the save will do: the entries, their numbers, and each day whose working status changes."""
    calendar = working_calendar()
    known = calendar.knows_year(year)  # an unknown year counts Monday-Friday (and is not "used" by a preview)
    new_holidays = {d for e in entries if e.kind == "holiday" for d in e.days}
    new_workdays = {d for e in entries if e.kind == "workday" for d in e.days}
    changes = []
    day = date(year, 1, 1)
    while day.year == year:
        working = day in new_workdays or (day not in new_holidays and day.weekday() < 5)
        if working != (calendar.is_working_day(day) if known else day.weekday() < 5):
            changes.append((day, working))
        day += timedelta(days=1)
    return {"entries": entries, "summary": service.summary(entries), "changes": changes}
