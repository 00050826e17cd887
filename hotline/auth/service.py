"""Authentication rules: lockout after repeated failures, password changes."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from hotline import audit
from hotline.errors import DomainError
from hotline.extensions import db
from models.user import User

#: Checked against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")
MIN_PASSWORD_LENGTH = 8


@dataclass
class LoginResult:
    user: User | None
    error: object = None  # a lazy message when user is None
    locked_until: datetime | None = None


def authenticate(username: str, password: str, *, now: datetime, max_attempts: int, lock_minutes: int) -> LoginResult:
    """Check a login; after ``max_attempts`` consecutive failures lock the account for ``lock_minutes``.

    Every outcome is written to the audit log; the caller commits.
    """
    from werkzeug.security import check_password_hash

    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        audit.record("login_failed", actor_id=None, now=now, target=username[:64], reason="unknown_user")
        return LoginResult(None, _l("Wrong username or password."))
    if user.locked_until is not None and user.locked_until > now:
        audit.record("login_refused_locked", actor_id=user.id, now=now, target=user.username)
        return LoginResult(None, None, locked_until=user.locked_until)
    if not user.check_password(password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_attempts:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            audit.record("account_locked", actor_id=user.id, now=now, target=user.username, minutes=lock_minutes)
            return LoginResult(None, None, locked_until=user.locked_until)
        audit.record("login_failed", actor_id=user.id, now=now, target=user.username, reason="password")
        return LoginResult(None, _l("Wrong username or password."))
    if not user.active:
        audit.record("login_failed", actor_id=user.id, now=now, target=user.username, reason="inactive")
        return LoginResult(None, _l("This account has been deactivated. Ask an administrator."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if not user.session_token:
        user.session_token = secrets.token_hex(8)
    audit.record("login", actor_id=user.id, now=now, target=user.username)
    return LoginResult(user)


def change_password(user: User, *, current: str, new: str, now: datetime) -> None:
    """Change ``user``'s own password; other sessions of the user end. The caller commits."""
    if not user.check_password(current):
        raise DomainError(_l("The current password is not correct."))
    set_password(user, new, actor_id=user.id, now=now)


def set_password(user: User, new: str, *, actor_id: int | None, now: datetime) -> None:
    """Set a new password (own change or admin reset), ending the user's other sessions."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("A password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH))
    user.set_password(new)
    user.session_token = secrets.token_hex(8)
    user.failed_logins = 0
    user.locked_until = None
    audit.record("password_changed", actor_id=actor_id, now=now, target=user.username)
