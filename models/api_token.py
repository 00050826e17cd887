"""Partner API tokens (接口令牌), their per-minute request counters and their stored idempotent answers."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime
from models.user import User

#: intake: report cases (POST /api/v1/tickets); read: read tickets, personal data masked; read_personal: read
#: them unmasked; referrals: act on the token's unit's referrals (needs a unit).
SCOPES = ("intake", "read", "read_personal", "referrals")


class ApiToken(db.Model):
    """A partner system's key to ``/api/v1``. The secret is shown once and stored only as its SHA-256."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who holds it (a partner system), as the admin named it.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: The secret's first characters, kept in clear so a token can be recognised in a list and in the logs.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 (hex) of the whole secret: a token is found by it, the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What it may do: a list of :data:`SCOPES`.
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    #: The unit a department-scoped token works for: it reads that unit's tickets only, and acts on its referrals.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: The service account a department-scoped token acts as (inactive: it cannot log in); the timeline names it.
    service_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set once: a revoked token is refused (401) from then on.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    department: Mapped[Department | None] = relationship()
    service_user: Mapped[User | None] = relationship(foreign_keys=[service_user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class ApiRateWindow(db.Model):
    """How many requests a token made in one minute (a fixed window), counted by an upsert every web worker shares."""

    __tablename__ = "api_rate_window"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"), primary_key=True)
    #: The minute counted (UTC, seconds zero).
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)


class ApiIdempotency(db.Model):
    """The first answer to a request a token sent with an ``Idempotency-Key``: a retry gets it again."""

    __tablename__ = "api_idempotency"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"))
    key: Mapped[str] = mapped_column(String(128))
    #: SHA-256 of the method, path and body: the same key with another request is refused (422).
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_api_idempotency_token_key"),)
