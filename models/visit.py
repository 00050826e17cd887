"""Household visits (探访): each flagged household's visit plan, the visits made, and the overdue ladder."""

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.contact import Contact
from models.department import Department
from models.types import UTCDateTime
from models.user import User


class VisitPlan(db.Model):
    """How often a household is visited and when the next visit is due; one plan per household.

    Created and updated only by ``hotline.grid.visits.plan_household`` from the household's flags and
    ``config/policy/visits.toml``. A due date names a run of the overdue ladder: a recorded visit moves
    it, and the ladder starts again for the new date.
    """

    __tablename__ = "visit_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The household: the person it is registered under, with its flags.
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), unique=True)
    #: The village or community responsible for the visits (its staff and grid workers make them).
    village_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    #: Days between visits, from the shortest matching rule of visits.toml.
    interval_days: Mapped[int] = mapped_column(Integer)
    #: The name of that rule (elderly_alone, social_assistance...).
    rule: Mapped[str] = mapped_column(String(32))
    #: The local (Asia/Shanghai) day by which the next visit is due.
    next_due_on: Mapped[date] = mapped_column(Date)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: False once no rule matches the household any more; its history stays.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Next instant an overdue step of this plan falls due: the sweep's index (empty: none to come).
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: Highest ladder level reached for the current due date (warn, urge, supervise); empty when not late.
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    contact: Mapped[Contact] = relationship()
    village: Mapped[Department] = relationship()

    __table_args__ = (Index("ix_visit_plan_village_due", "village_id", "active", "next_due_on"),)


class Visit(db.Model):
    """One visit made to a household, as the visitor recorded it from the phone page."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plan.id"), index=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The due date this visit answered (the ladder's run it ended).
    due_on: Mapped[date] = mapped_column(Date)
    #: Whether the person was seen in person (见到本人).
    seen: Mapped[bool] = mapped_column(Boolean)
    #: How they are (身体、生活状况).
    condition: Mapped[str] = mapped_column(Text)
    #: What they need, in their words or the visitor's.
    needs: Mapped[str | None] = mapped_column(Text)
    #: The visitor found difficulty: offered to become a ticket in one tap.
    difficulty: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The ticket the difficulty went to (source ``visit``).
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))

    plan: Mapped[VisitPlan] = relationship()
    visitor: Mapped[User] = relationship()
    ticket = relationship("Ticket")


class VisitEscalation(db.Model):
    """One ladder step of an overdue visit, written exactly once per (plan, due date, level).

    The parallel of ``EscalationStep`` for visits: a visit is no ticket, and ``escalation_step`` keys on one.
    The levels are the ticket ladder's (预警/催办/督办); when they fire comes from visits.toml.
    """

    __tablename__ = "visit_escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plan.id"))
    due_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(16))
    #: When the step was due by the ladder (the sweep may run later, after downtime).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("plan_id", "due_on", "level", name="uq_visit_escalation_once"),)
