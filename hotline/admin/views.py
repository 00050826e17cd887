"""Admin pages: users, departments, audit log."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import audit as audit_trail
from hotline.admin import service
from hotline.admin.forms import DepartmentForm, UserForm
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.security import require_role
from hotline.timeutil import utcnow
from models.audit import AuditLog
from models.department import Department
from models.user import User

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.level, Department.code)))


def _department_choices():
    return choices([(0, "—")] + [(d.id, f"{d.name} ({d.code})") for d in _departments()])


@bp.get("/users")
@require_role("admin")
def users():
    page = db.paginate(
        select(User).order_by(User.role, User.username),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template("admin/users.html", page=page, now=utcnow())


@bp.route("/users/new", methods=["GET", "POST"])
@require_role("admin")
def user_new():
    form = UserForm()
    form.department_id.choices = _department_choices()
    error = None
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("Give the new user a password."))
        else:
            try:
                service.create_user(
                    actor=current_user,
                    now=utcnow(),
                    username=form.username.data,
                    display_name=form.display_name.data,
                    role=form.role.data,
                    password=form.password.data,
                    department=db.session.get(Department, form.department_id.data) if form.department_id.data else None,
                )
            except DomainError as exc:
                db.session.rollback()
                error = str(exc.message)
            else:
                db.session.commit()
                flash(_("User %(name)s created.", name=form.username.data), "success")
                return redirect(url_for("admin.users"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None, error=error), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role("admin")
def user_edit(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.department_id.choices = _department_choices()
    form.username.data = user.username  # usernames never change: audit entries name them
    if request.method == "GET":
        form.department_id.data = user.department_id or 0
    error = None
    if form.validate_on_submit():
        try:
            service.update_user(
                user,
                actor=current_user,
                now=utcnow(),
                display_name=form.display_name.data,
                role=form.role.data,
                department=db.session.get(Department, form.department_id.data) if form.department_id.data else None,
                active=form.active.data,
                new_password=form.password.data or None,
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user, error=error, now=utcnow()), status


@bp.get("/departments")
@require_role("admin")
def departments():
    return render_template("admin/departments.html", departments=_departments())


@bp.route("/departments/new", methods=["GET", "POST"])
@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@require_role("admin")
def department_edit(department_id: int | None = None):
    department = None
    if department_id is not None:
        department = db.session.get(Department, department_id) or abort(404)
    form = DepartmentForm(obj=department)
    form.parent_id.choices = [c for c in _department_choices() if not department or c.value != department.id]
    if department is not None:
        form.code.data = department.code  # codes are stable: the catalogue and tickets use them
        if request.method == "GET":
            form.parent_id.data = department.parent_id or 0
    error = None
    if form.validate_on_submit():
        try:
            service.save_department(
                department,
                actor=current_user,
                now=utcnow(),
                code=form.code.data,
                name=form.name.data,
                kind=form.kind.data,
                level=form.level.data,
                parent=db.session.get(Department, form.parent_id.data) if form.parent_id.data else None,
                duty_phone=form.duty_phone.data,
                # The new-unit form has no "active" box (a new unit is active); an absent box reads as False.
                active=form.active.data if department is not None else True,
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            flash(_("Department %(name)s saved.", name=form.name.data), "success")
            return redirect(url_for("admin.departments"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/department_form.html", form=form, department=department, error=error), status


@bp.get("/audit")
@require_role("admin", "manager")
def audit():
    page = db.paginate(
        select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    return render_template("admin/audit.html", page=page, kinds=audit_trail.KINDS, describe=audit_trail.describe)
