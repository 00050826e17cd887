"""Authentication rules: login throttling by account and by client address, sessions, password changes."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from hotline import audit
from hotline.errors import DomainError
from hotline.extensions import db
from models.login_attempt import LoginAttempt
from models.user import User

#: Checked against when the password is not looked at (unknown user, client over its limit), so every
#: refusal costs one hash like a wrong password does.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Throttle:
    """How failed logins slow down further attempts (the ``HOTLINE_LOGIN_*`` settings).

    An account's first ``free_failures`` wrong passwords cost nothing; after that each further
    attempt waits 2, 4, 8 ... seconds after the last one, at most ``max_delay_seconds``: a stranger
    can slow the real user down, never shut them out for longer. A client address with
    ``client_max_failures`` refusals within ``window_minutes`` is refused until it has fewer.
    Failures on an account are forgotten after ``window_minutes`` without one.
    """

    free_failures: int = 5
    max_delay_seconds: int = 60
    client_max_failures: int = 20
    window_minutes: int = 15

    @classmethod
    def from_config(cls, config) -> "Throttle":
        return cls(
            free_failures=config["LOGIN_FREE_FAILURES"],
            max_delay_seconds=config["LOGIN_MAX_DELAY_SECONDS"],
            client_max_failures=config["LOGIN_CLIENT_MAX_FAILURES"],
            window_minutes=config["LOGIN_WINDOW_MINUTES"],
        )

    def account_delay(self, failures: int) -> timedelta:
        """The wait after an account's ``failures``-th wrong password in a row."""
        if failures < self.free_failures:
            return timedelta(0)
        exponent = min(failures - self.free_failures + 1, 30)  # 2**30 s is beyond any sensible cap
        return timedelta(seconds=min(2**exponent, self.max_delay_seconds))


@dataclass
class LoginResult:
    #: The user now logged in; None when refused.
    user: User | None
    #: Refused because the account is deactivated (only said to someone who gave its right password).
    inactive: bool = False


def client_failures(client: str, *, now: datetime, throttle: Throttle) -> int:
    """Refused logins from ``client`` within the window."""
    since = now - timedelta(minutes=throttle.window_minutes)
    return db.session.scalar(
        select(func.count(LoginAttempt.id)).where(LoginAttempt.client == client, LoginAttempt.at >= since)
    )


def is_throttled(user: User, now: datetime) -> bool:
    """Whether ``user``'s next login attempt is refused unheard (it comes too soon after failures)."""
    return user.locked_until is not None and user.locked_until > now


def authenticate(username: str, password: str, *, client: str, now: datetime, throttle: Throttle) -> LoginResult:
    """Check a login from ``client`` (its address) under the throttling rules.

    An unknown user, a wrong password, an attempt too soon after failures and a client over its
    limit all cost one password hash and give the same refusal: nobody learns from the answer
    whether an account exists or is being slowed down. Refusals are audited as attempts on the
    typed username with no actor (the account's owner did nothing). The caller commits.
    """
    name = username.strip()[:64]
    user = db.session.scalar(select(User).where(User.username == name))
    if client_failures(client, now=now, throttle=throttle) >= throttle.client_max_failures:
        check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        return _refused(name, client, now, throttle, reason="client_limited")
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return _refused(name, client, now, throttle, reason="unknown_user")
    if is_throttled(user, now):
        user.check_password(password)  # the answer does not count; the time spent does
        return _refused(name, client, now, throttle, reason="throttled")
    if not user.check_password(password):
        forgotten_before = now - timedelta(minutes=throttle.window_minutes)
        if user.locked_until is None or user.locked_until < forgotten_before:
            user.failed_logins = 0
        user.failed_logins = (user.failed_logins or 0) + 1
        # Set on every failure, so the count can be forgotten after a quiet window.
        user.locked_until = now + throttle.account_delay(user.failed_logins)
        return _refused(name, client, now, throttle, reason="password", failures=user.failed_logins)
    if not user.active:
        audit.record("login_failed", actor_id=None, now=now, target=name, reason="inactive", client=client)
        return LoginResult(None, inactive=True)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if not user.session_token:
        user.session_token = new_session_token()
    audit.record("login", actor_id=user.id, now=now, target=user.username, client=client)
    return LoginResult(user)


def _refused(name: str, client: str, now: datetime, throttle: Throttle, **payload) -> LoginResult:
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(minutes=throttle.window_minutes)))
    db.session.add(LoginAttempt(client=client[:64], username=name, at=now))
    audit.record("login_failed", actor_id=None, now=now, target=name, client=client, **payload)
    return LoginResult(None)


def new_session_token() -> str:
    return secrets.token_hex(16)


def end_sessions(user: User, *, actor_id: int | None, now: datetime, reason: str) -> None:
    """End every session of ``user`` on every browser: each carries the token, which changes here.

    ``reason`` is ``logout`` (the user's own, ending their other copies too) or ``signed_out``
    (an administrator's "sign out everywhere"). The caller commits.
    """
    user.session_token = new_session_token()
    audit.record(reason, actor_id=actor_id, now=now, target=user.username)


def unlock(user: User, *, actor_id: int, now: datetime) -> bool:
    """Clear ``user``'s failed logins and throttle; False (and nothing audited) when there was none."""
    if not user.failed_logins and user.locked_until is None:
        return False
    audit.record(
        "login_unlocked",
        actor_id=actor_id,
        now=now,
        target=user.username,
        failures=user.failed_logins or 0,
        throttled=is_throttled(user, now),
    )
    user.failed_logins = 0
    user.locked_until = None
    return True


def change_password(user: User, *, current: str, new: str, now: datetime) -> None:
    """Change ``user``'s own password; other sessions of the user end. The caller commits."""
    if not user.check_password(current):
        raise DomainError(_l("The current password is not correct."))
    set_password(user, new, actor_id=user.id, now=now)


def set_password(user: User, new: str, *, actor_id: int | None, now: datetime) -> None:
    """Set a new password (own change or admin reset), ending the user's sessions everywhere."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("A password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH))
    user.set_password(new)
    user.session_token = new_session_token()
    user.failed_logins = 0
    user.locked_until = None
    audit.record("password_changed", actor_id=actor_id, now=now, target=user.username)
