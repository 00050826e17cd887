"""Admin pages of the partner API's tokens: the list, a new token (its secret shown once), revoking one."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hotline.admin.forms import TokenForm
from hotline.api import tokens as service
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.forms import choices
from hotline.security import require_role
from hotline.timeutil import utcnow
from models.api_token import SCOPES, ApiToken
from models.department import Department

bp = Blueprint("admin_tokens", __name__, url_prefix="/admin/tokens")

#: What each scope lets a partner do, as the form and the list say it.
SCOPE_LABELS = {
    "intake": _l("intake: report cases"),
    "read": _l("read: read tickets, personal data masked"),
    "read_personal": _l("read_personal: read tickets with names, phone and ID numbers"),
    "referrals": _l("referrals: work the unit's referrals (needs a unit)"),
}


def _form() -> TokenForm:
    form = TokenForm()
    form.scopes.choices = choices((scope, SCOPE_LABELS[scope]) for scope in SCOPES)
    units = db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.level, Department.code)
    )
    form.department_id.choices = choices(
        [(0, _("— none: reads every ticket —"))] + [(d.id, f"{d.name} ({d.code})") for d in units]
    )
    return form


@bp.get("")
@require_role("admin")
def index():
    page = db.paginate(
        select(ApiToken)
        .options(selectinload(ApiToken.department), selectinload(ApiToken.service_user))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template("admin/tokens.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@require_role("admin")
def new():
    form = _form()
    error = None
    if form.validate_on_submit():
        department = db.session.get(Department, form.department_id.data) if form.department_id.data else None
        try:
            token, secret = service.create_token(
                actor=current_user, now=utcnow(), name=form.name.data, scopes=form.scopes.data, department=department
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            # The secret is shown on this answer only (no redirect: it would have to be kept somewhere).
            return render_template("admin/token_created.html", token=token, secret=secret)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/token_form.html", form=form, error=error), status


@bp.post("/<int:token_id>/revoke")
@require_role("admin")
def revoke(token_id: int):
    token = db.session.get(ApiToken, token_id) or abort(404)
    try:
        service.revoke_token(token, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "warning")
    else:
        db.session.commit()
        flash(_("Token %(name)s revoked: it is refused from now on.", name=token.name), "success")
    return redirect(url_for("admin_tokens.index"))
