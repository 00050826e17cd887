"""Login, logout, own password, UI language; an administrator's unlock and "sign out everywhere"."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from hotline.auth.forms import ChangePasswordForm, LoginForm
from hotline.auth.service import Throttle, authenticate, change_password, end_sessions, unlock
from hotline.errors import DomainError
from hotline.extensions import db, login_manager
from hotline.security import require_role
from hotline.timeutil import utcnow
from models.user import User

bp = Blueprint("auth", __name__)

#: The session key holding when the session was last used (Unix seconds, the app's clock).
SEEN_KEY = "seen"


@login_manager.user_loader
def load_user(user_id: str):
    """The session's user, if its token is still the user's and it was used within the idle timeout.

    Logout, a password change, deactivation and "sign out everywhere" change the token, so every
    copy of an older cookie stops working at once.
    """
    ident, _sep, token = user_id.partition(":")
    if not ident.isdigit() or not token:
        return None
    now = utcnow().timestamp()
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int | float) or now - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        for key in ("_user_id", "_fresh", "_id", SEEN_KEY):
            session.pop(key, None)
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_token != token:
        return None
    session[SEEN_KEY] = int(now)
    return user


def _start_session(user: User) -> None:
    login_user(user)
    session.permanent = True  # the cookie lives PERMANENT_SESSION_LIFETIME (the idle timeout) past each use
    session[SEEN_KEY] = int(utcnow().timestamp())


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
            client=request.remote_addr or "unknown",
            now=utcnow(),
            throttle=Throttle.from_config(current_app.config),
        )
        db.session.commit()
        if result.user is not None:
            _start_session(result.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
        if result.inactive:
            error = _("This account has been deactivated. Ask an administrator.")
        else:
            error = _(
                "Wrong username or password. After several failed attempts logins are slowed down: "
                "wait a little and try again."
            )
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    end_sessions(current_user, actor_id=current_user.id, now=utcnow(), reason="logout")
    db.session.commit()
    logout_user()
    session.pop(SEEN_KEY, None)
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
            _start_session(current_user._get_current_object())
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

    from hotline.user_notifications import mark_all_read
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


@bp.post("/admin/users/<int:user_id>/unlock")
@require_role("admin")
def unlock_user(user_id: int):
    """Clear an account's failed logins, so its next attempt is heard at once."""
    user = db.session.get(User, user_id) or abort(404)
    if unlock(user, actor_id=current_user.id, now=utcnow()):
        db.session.commit()
        flash(_("Failed logins of %(name)s cleared: the next attempt is heard at once.", name=user.username), "success")
    else:
        flash(_("%(name)s had no failed logins to clear.", name=user.username), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/sign-out")
@require_role("admin")
def sign_out_everywhere(user_id: int):
    """End every session of a user on every browser (a lost phone, a shared computer)."""
    user = db.session.get(User, user_id) or abort(404)
    end_sessions(user, actor_id=current_user.id, now=utcnow(), reason="signed_out")
    db.session.commit()
    if user.id == current_user.id:
        return redirect(url_for("auth.login"))
    flash(_("%(name)s is signed out on every browser.", name=user.username), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))
