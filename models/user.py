"""People who log in: operators, department staff, managers, admins."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime

ROLES = ("operator", "department", "manager", "admin")
#: The hotline's own staff: they answer callers, own tickets and refer them.
HOTLINE_ROLES = ("operator", "manager")
#: Everyone who works on cases: the hotline and the departments it refers them to.
CASE_ROLES = ("operator", "manager", "department")


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    #: Werkzeug scrypt hash; the plain password is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: The unit a department user works for; empty for the other roles.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Wrong passwords since the last success or admin unlock; forgotten after a quiet window (login throttling).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: Set at each wrong password: the next attempt is heard from this time (later after many failures).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: UI language chosen by the user; empty means the site default (zh_CN).
    locale: Mapped[str | None] = mapped_column(String(8))
    #: Kept in every session of the user; a new one (logout, password change, deactivation, an admin's
    #: "sign out everywhere") ends all of them at once.
    session_token: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    department: Mapped[Department | None] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        # The token part makes every older session invalid once the token changes.
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
