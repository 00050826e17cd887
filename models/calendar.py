"""The working calendar entered by an admin: a year's holidays and 调休 working days.

A year entered here overrides ``config/policy/calendar.toml`` and the
``chinesecalendar`` package for that year: the admin copies the State Council
notice (国务院办公厅关于某年部分节假日安排的通知) into it as soon as it is published.
"""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime
from models.user import User

DAY_KINDS = ("holiday", "workday")


class CalendarYear(db.Model):
    """One year whose holidays and make-up working days were entered by an admin."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Where the dates come from (the notice's title or number).
    source: Mapped[str | None] = mapped_column(String(200))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    updated_by: Mapped[User | None] = relationship()
    days = relationship("CalendarDay", order_by="CalendarDay.day", cascade="all, delete-orphan")


class CalendarDay(db.Model):
    """A day that is not what its weekday says: a holiday on a weekday, or a 调休 working weekend day."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year"), index=True)
    #: holiday (no office hours) or workday (a weekend day worked, 调休).
    kind: Mapped[str] = mapped_column(String(8))
    #: The holiday's name (春节, 国庆节...).
    name: Mapped[str | None] = mapped_column(String(64))
