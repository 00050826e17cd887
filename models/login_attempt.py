"""Failed logins by client address: what the per-address login limit counts."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import db
from models.types import UTCDateTime


class LoginAttempt(db.Model):
    """One refused login (wrong password, unknown user, throttled); rows older than the window are deleted.

    The audit log keeps every attempt for good; this table only answers "how many failures came
    from this address lately" quickly, so it is pruned as it is written.
    """

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The client address as the app sees it (the socket, or the trusted proxy header: HOTLINE_PROXY_HOPS).
    client: Mapped[str] = mapped_column(String(64))
    #: The username that was typed (it may not exist).
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (Index("ix_login_attempt_client_at", "client", "at"),)
