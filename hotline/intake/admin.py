"""Admin pages of the duty roster: who the hotline's number rings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.intake.duty import save_duty_line
from hotline.intake.forms import DutyLineForm
from hotline.security import require_role
from hotline.timeutil import utcnow
from models.duty import DutyLine
from models.user import HOTLINE_ROLES, User

bp = Blueprint("duty", __name__, url_prefix="/admin/duty")


def _operator_choices():
    users = db.session.scalars(
        select(User)
        .where(User.role.in_(HOTLINE_ROLES), User.active.is_(True))
        .order_by(User.role.desc(), User.display_name)
    )
    return choices([(0, "—")] + [(u.id, u.display_name) for u in users])


@bp.get("")
@require_role("admin")
def roster():
    lines = db.session.scalars(select(DutyLine).order_by(DutyLine.on_duty.desc(), DutyLine.position, DutyLine.id))
    return render_template("intake/duty.html", lines=list(lines))


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:line_id>", methods=["GET", "POST"])
@require_role("admin")
def edit(line_id: int | None = None):
    line = None
    if line_id is not None:
        line = db.session.get(DutyLine, line_id) or abort(404)
    form = DutyLineForm(obj=line)
    form.user_id.choices = _operator_choices()
    if request.method == "GET" and line is not None:
        form.user_id.data = line.user_id or 0
    error = None
    if form.validate_on_submit():
        try:
            save_duty_line(
                line,
                actor=current_user,
                now=utcnow(),
                user=db.session.get(User, form.user_id.data) if form.user_id.data else None,
                label=form.label.data,
                phone=form.phone.data,
                client_identity=form.client_identity.data,
                position=form.position.data,
                on_duty=form.on_duty.data,
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            flash(_("Duty roster saved."), "success")
            return redirect(url_for("duty.roster"))
    status = 400 if request.method == "POST" else 200
    return render_template("intake/duty_form.html", form=form, line=line, error=error), status
