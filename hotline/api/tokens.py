"""Partner API tokens: created (the secret shown once), found by the hash of the secret, counted, revoked.

A token is ``hk_`` and 43 random URL-safe characters (``secrets.token_urlsafe(32)``: 256 bits). Only its
SHA-256 is stored, with its first 11 characters (the prefix) in clear so that a list, the audit trail and
a partner's support call can name it. A fast hash is enough: the secret is random, not a password.

A token with a unit (``--department``) acts through a service account of that unit, created with the
token: an inactive ``department`` user named ``api-<prefix>``, who cannot log in. The referral service
functions check their actor as they do for the unit's staff, and the case's timeline names the account
(its display name is the token's name), so a partner's 签收 or 办结 reads like anyone else's.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from hotline import audit
from hotline.errors import DomainError
from hotline.extensions import DIALECT_INSERT, db
from hotline.validation import checked_text
from models.api_token import SCOPES, ApiIdempotency, ApiRateWindow, ApiToken
from models.department import Department
from models.user import User

#: Every secret starts with it: a token pasted in the wrong place is recognisable (secret scanners too).
SECRET_MARK = "hk_"  # noqa: S105 (a marker, not a secret)
PREFIX_LENGTH = len(SECRET_MARK) + 8
#: Scopes that only make sense for a token bound to a unit.
UNIT_SCOPES = ("referrals",)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    *, actor: User | None, now: datetime, name: str, scopes: list[str], department: Department | None = None
) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once, never stored). ``referrals`` needs a unit; the unit's service
    account is created with it. Refused: an empty or taken name, no scope, an unknown scope, an inactive unit."""
    name = checked_text(name, _l("Give the token a name (the partner system it is for)."), limit=64)
    if db.session.scalar(select(func.count(ApiToken.id)).where(func.lower(ApiToken.name) == name.lower())):
        raise DomainError(_l("A token named %(name)s exists already.", name=name))
    chosen = set(scopes or ())
    if chosen - set(SCOPES):
        raise DomainError(_l("Unknown scope: choose from %(scopes)s.", scopes=", ".join(SCOPES)))
    if not chosen:
        raise DomainError(_l("Choose at least one scope."))
    scopes = [scope for scope in SCOPES if scope in chosen]
    if any(scope in UNIT_SCOPES for scope in scopes) and department is None:
        raise DomainError(_l("The referrals scope needs a unit: the token acts on that unit's referrals."))
    if department is not None and not department.active:
        raise DomainError(_l("This unit is deactivated."))
    secret = SECRET_MARK + secrets.token_urlsafe(32)
    prefix = secret[:PREFIX_LENGTH]
    service_user = None
    if department is not None:
        service_user = User(
            username=f"api-{prefix}",
            display_name=f"{name} (API)",
            role="department",
            department=department,
            active=False,  # never a login: only the token acts as it
            failed_logins=0,
            password_hash="!",  # noqa: S106 (no password matches it)
            created_at=now,
        )
        db.session.add(service_user)
    token = ApiToken(
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=scopes,
        department=department,
        service_user=service_user,
        created_at=now,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token_created",
        actor_id=actor.id if actor else None,
        now=now,
        target=name,
        prefix=prefix,
        scopes=scopes,
        department=department.code if department else None,
    )
    return token, secret


def revoke_token(token: ApiToken, *, actor: User | None, now: datetime) -> None:
    """Refuse the token from now on (401). Its history and its service account's stay."""
    if token.revoked_at is not None:
        raise DomainError(_l("This token was revoked already."))
    token.revoked_at = now
    token.revoked_by_id = actor.id if actor else None
    audit.record(
        "api_token_revoked", actor_id=actor.id if actor else None, now=now, target=token.name, prefix=token.prefix
    )


def find_token(secret: str | None) -> ApiToken | None:
    """The token whose secret this is, revoked or not; None for anything else."""
    if not secret or not secret.startswith(SECRET_MARK) or len(secret) > 128:
        return None
    return db.session.scalar(select(ApiToken).where(ApiToken.secret_hash == hash_secret(secret)))


_WINDOW = ApiRateWindow.__table__


def count_request(token: ApiToken, *, now: datetime, limit: int, keep_keys: timedelta) -> int | None:
    """Count one request of ``token`` in the current minute and commit: None when within ``limit``, else the
    seconds until the next minute (``Retry-After``).

    One upsert per request, on a row per token and minute, so every web worker (and every server sharing the
    PostgreSQL database) counts against the same limit. The first request of a minute also clears the token's
    older minutes, and its ``Idempotency-Key`` answers older than ``keep_keys``: at most once a minute a token,
    and no scheduler job.
    """
    window = now.replace(second=0, microsecond=0)
    insert = DIALECT_INSERT[db.session.get_bind().dialect.name](_WINDOW).values(
        token_id=token.id, window_start=window, requests=1
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[_WINDOW.c.token_id, _WINDOW.c.window_start], set_={"requests": _WINDOW.c.requests + 1}
    ).returning(_WINDOW.c.requests)
    made = db.session.execute(upsert).scalar_one()
    if made == 1:
        db.session.execute(
            delete(ApiRateWindow).where(ApiRateWindow.token_id == token.id, ApiRateWindow.window_start < window)
        )
        db.session.execute(
            delete(ApiIdempotency).where(
                ApiIdempotency.token_id == token.id, ApiIdempotency.created_at < now - keep_keys
            )
        )
    db.session.commit()
    if made <= limit:
        return None
    return max(1, int((window + timedelta(minutes=1) - now).total_seconds() + 0.999))


def record_use(token: ApiToken, *, now: datetime, method: str, path: str, status: int, **payload) -> None:
    """Write one audit entry for one request the token made, note when it was last used, and commit."""
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    audit.record(
        "api_used",
        actor_id=token.service_user_id,
        now=now,
        target=token.prefix,
        token=token.name,
        method=method,
        path=path[:200],
        status=status,
        **payload,
    )
    db.session.commit()
