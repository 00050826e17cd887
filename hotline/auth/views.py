"""Login, logout, own password, UI language."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from hotline.auth.forms import ChangePasswordForm, LoginForm
from hotline.auth.service import authenticate, change_password
from hotline.errors import DomainError
from hotline.extensions import db, login_manager
from hotline.timeutil import utcnow
from models.user import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str):
    ident, _sep, token = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        result = authenticate(
            form.username.data,
            form.password.data,
            now=utcnow(),
            max_attempts=current_app.config["LOCKOUT_ATTEMPTS"],
            lock_minutes=current_app.config["LOCKOUT_MINUTES"],
        )
        db.session.commit()
        if result.user is not None:
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
        if result.locked_until is not None:
            error = _(
                "Too many failed attempts: this account is locked until %(time)s. "
                "Try again then, or ask an administrator to unlock it.",
                time=format_datetime(result.locked_until, "HH:mm"),
            )
        else:
            error = str(result.error)
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, current=form.current.data, new=form.new.data, now=utcnow())
        except DomainError as exc:
            form.current.errors.append(str(exc.message))
        else:
            db.session.commit()
            # The session token changed; keep this browser logged in. Pass the user, not the
            # proxy: Flask-Login keeps what it is given as ``current_user``, and a proxy to
            # itself recurses until the process crashes.
            login_user(current_user._get_current_object())
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("index"))
    return render_template("auth/password.html", form=form), 400 if form.errors else 200


@bp.post("/language")
def language():
    """Switch the UI language; kept on the user for next time."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("index"))


@bp.get("/notifications")
@login_required
def notifications():
    """The user's notices, newest first; opening the list marks them read."""
    from sqlalchemy import select

    from hotline.notices import mark_all_read
    from models.notification import Notification

    page = db.paginate(
        select(Notification).where(Notification.user_id == current_user.id).order_by(Notification.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    unread = {n.id for n in page.items if n.read_at is None}
    mark_all_read(current_user.id, now=utcnow())
    db.session.commit()
    return render_template("auth/notifications.html", page=page, unread=unread)
