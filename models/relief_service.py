"""服务类救助: help that is a service rather than money (visits, care, counselling, job support...)."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.department import Department
from models.types import UTCDateTime
from models.user import User


class ReliefService(db.Model):
    """A service delivered to a case by a unit or a contracted social-work organisation."""

    __tablename__ = "relief_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: A service kind of ``relief_rules.toml`` (``visit``, ``care``, ``counselling``...).
    kind: Mapped[str] = mapped_column(String(24))
    #: The unit that delivered it; empty when a contracted organisation did (``provider_org``).
    provider_unit_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: The contracted social-work organisation (社工机构) that delivered it, by name.
    provider_org: Mapped[str | None] = mapped_column(String(120))
    #: First and last day of the service (local dates); one day for a visit.
    started_on: Mapped[date] = mapped_column(Date, index=True)
    ended_on: Mapped[date] = mapped_column(Date)
    #: Time spent, in minutes (the form takes hours: 1.5).
    minutes: Mapped[int] = mapped_column(Integer)
    #: What came of it, in the words of whoever recorded it.
    outcome: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    provider_unit: Mapped[Department | None] = relationship()
    recorded_by: Mapped[User] = relationship()
