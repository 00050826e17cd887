"""Escalation steps (预警/催办/督办/个案会商) and the scheduler's heartbeat."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import db
from models.types import UTCDateTime

#: In ladder order; a ticket or referral remembers the highest level it reached.
LEVELS = ("warn", "urge", "supervise", "case_conference")
#: Levels reached only after a deadline passed (催办 and above).
BREACH_LEVELS = LEVELS[1:]
#: Levels that put a case under a manager's supervision (督办, 个案会商).
SUPERVISED_LEVELS = LEVELS[2:]


class EscalationStep(db.Model):
    """One rung of the ladder, written exactly once per (ticket, referral, clock, run, level).

    ``referral_key`` is the referral id, or 0 for the ticket's own clocks (a
    unique constraint treats NULLs as distinct, so 0 stands for "none").
    Sweepers claim a step by inserting its row: the insert that wins does the
    notifying; a replayed or concurrent sweep's insert conflicts and does nothing.

    A run of a clock is named by the instant it started (``started_at``): a
    clock that runs again on the same ticket (the hotline's own clock after the
    last referral came back, the callback after a reopened ticket is resolved
    again, a second return request) starts at a new instant and climbs the
    ladder again, while the same run never repeats a level. The start, not the
    deadline, names the run because a run's deadline moves (a resumed pause, an
    approved extension, a new priority) and its steps already written must not
    be written again.
    """

    __tablename__ = "escalation_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    referral_key: Mapped[int] = mapped_column(Integer, default=0)
    #: acknowledge, resolve, dispatch, first_contact, advance_relief, paperwork, callback, close,
    #: pause_review, return_review; "manual" for a supervision a manager started by hand.
    clock: Mapped[str] = mapped_column(String(24))
    #: When the run of the clock this step belongs to started (the manual supervision: when it was made).
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    #: When the step was due by the ladder (the sweep may run later, after downtime).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("ticket_id", "referral_key", "clock", "started_at", "level", name="uq_escalation_step_once"),
        Index("ix_escalation_step_level_written", "level", "written_at"),
    )


class Heartbeat(db.Model):
    """The last time a background job ran; /healthz and the manager pages show its age."""

    __tablename__ = "heartbeat"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    info: Mapped[dict] = mapped_column(JSON, default=dict)
