"""Callers: the people the hotline helps."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime

#: The vulnerability flags of a person or household, for badges and the visit plans (探访).
FLAGS = ("is_elderly", "is_child", "has_disability", "lives_alone", "social_assistance", "left_behind_children")


class Contact(db.Model):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164 phone number (``+8613812341234``); unique, empty when unknown or invalid.
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: The number exactly as received when it could not be parsed; never lost.
    phone_raw: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(120))
    #: 身份证号; masked on every screen.
    id_number: Mapped[str | None] = mapped_column(String(32), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_elderly: Mapped[bool] = mapped_column(Boolean, default=False)
    is_child: Mapped[bool] = mapped_column(Boolean, default=False)
    has_disability: Mapped[bool] = mapped_column(Boolean, default=False)
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 社会救助对象 (低保、特困供养...): the household is visited at least once a quarter (visits.toml).
    social_assistance: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The household cares for children whose parents work away (留守儿童).
    left_behind_children: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The person texted STOP/退订: no outbound SMS may go to them.
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    township: Mapped[Department | None] = relationship(foreign_keys=[township_id])
    village: Mapped[Department | None] = relationship(foreign_keys=[village_id])

    @property
    def flags(self) -> list[str]:
        """Short codes of the vulnerability flags that are set, for badges."""
        return [n for n in FLAGS if getattr(self, n)]
