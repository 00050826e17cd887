"""Departments: county bureaus, townships, villages and grid units that take referrals."""

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db

#: What kind of unit it is; townships and villages are also places.
KINDS = ("hotline", "bureau", "township", "village", "community", "grid", "charity")
#: Administrative level, used to know who may pass a referral on to whom.
LEVELS = ("county", "township", "village", "grid")


class Department(db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable machine code used by the dispatch catalogue and the CLI (``civil_affairs``).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: Display name in Chinese, as people in the county call it (县民政局).
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    #: The unit above: a village's township, a grid's village.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: Phone that is answered around the clock; P1 referrals are texted here.
    duty_phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["Department | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Department"]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<Department {self.code}>"
