"""Tickets, their append-only event log, and the daily number sequence."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    and_,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.contact import Contact
from models.types import UTCDateTime
from models.user import User

PRIORITIES = ("P0", "P1", "P2", "P3")
#: 救急难 priorities: an urgent text alerts every operator's desk, a referral texts the unit's duty phone too,
#: and their clocks never pause.
URGENT_PRIORITIES = PRIORITIES[:2]
#: new: arrived without an owner (SMS, missed call); open: an operator owns it;
#: referred: departments are working on it; pending_callback: help given, the
#: caller is to be called back; closed; merged: a duplicate folded into another.
STATUSES = ("new", "open", "referred", "pending_callback", "closed", "merged")
OPEN_STATUSES = ("new", "open", "referred", "pending_callback")
EMERGENCY_SERVICES = ("110", "119", "120")


class Ticket(db.Model):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``YYYYMMDD`` (Asia/Shanghai date) + 4-digit daily sequence: readable and sortable.
    number: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: Who reported the case when it was not the person calling or texting: a source code of
    #: ``config/policy/sources.toml`` (monitoring, grid, visit, 12345...); the 主动发现 figures count by it.
    source: Mapped[str | None] = mapped_column(String(16))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    #: Category code from ``config/policy/catalogue.toml``.
    category: Mapped[str] = mapped_column(String(48))
    priority: Mapped[str] = mapped_column(String(2))
    summary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    #: 首问负责人: the operator who first took the case; accountable until it closes.
    first_contact_owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The caller asked for confidentiality (保密).
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Children's or otherwise sensitive case; shown with a badge, data handled with care.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Suspected child abuse: 强制报告 applies.
    mandatory_report: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 110 / 119 / 120 when a life-danger call was handed over during the call.
    emergency_service: Mapped[str | None] = mapped_column(String(3))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    #: What was done for the caller, set when help was given or at closing.
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Satisfaction 1..5 at the last callback that reached the caller.
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Clock deadlines of the ticket itself (see config/policy/sla.toml); empty when the clock
    #: does not run for this priority, has not started, or has stopped because its goal was met.
    dispatch_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the hotline's own clock (派单/答复) last started: the ticket was logged, its last active
    #: referral ended, or it was reopened. Empty while the clock does not run (a referral is active,
    #: the ticket was answered, closed or merged); ``dispatch_due_at`` then keeps the last deadline.
    dispatch_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When someone first reached the person in difficulty (the first-contact clock's goal).
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    advance_relief_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When advance relief was granted, or recorded as not needed (the advance-relief clock's goal).
    advance_relief_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: granted or not_needed; a grant starts the paperwork clock.
    advance_relief_outcome: Mapped[str | None] = mapped_column(String(12))
    paperwork_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paperwork_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The last callback attempt (reached or not); one after resolution stops the callback clock.
    last_callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: 结案: after a callback attempt on a ticket awaiting callback, by when it is closed (or called again).
    close_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: P2/P3 clocks paused while waiting for the caller (never P0/P1); resumed clocks move on.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(Text)
    #: While paused: by when the pause is reviewed (暂停复核, ``pause_review`` in sla.toml); it escalates.
    pause_review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Earliest running deadline of the ticket and its referrals: queue order, "time left", overdue.
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: Next instant a ladder step of the ticket's own clocks falls due: the sweep's index.
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: Up to when the sweep has handled this ticket's ladder.
    escalation_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Highest ladder level reached by any clock of the ticket or its referrals (warn .. case_conference).
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    #: Triage of the text on arrival (config/policy/triage.toml): the suggested priority and category,
    #: and the words that matched. An operator confirms or corrects it once; the verdict is kept for reports.
    triage_priority: Mapped[str | None] = mapped_column(String(2))
    triage_category: Mapped[str | None] = mapped_column(String(48))
    triage_reasons: Mapped[list | None] = mapped_column(JSON)
    #: Which rule group suggested it (``suicide``, ``missing_child``...), or ``model``: the triage model raised
    #: a text no rule counted, and its reasons are the pieces that weighed most, not matched words.
    triage_kind: Mapped[str | None] = mapped_column(String(32))
    #: confirmed or corrected; empty until an operator has looked at the suggestion.
    triage_verdict: Mapped[str | None] = mapped_column(String(12))
    triage_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Optimistic lock: bumped on every change, compared with the version a form was built from.
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    contact: Mapped[Contact | None] = relationship()
    first_contact_owner: Mapped[User | None] = relationship(foreign_keys=[first_contact_owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    merged_into: Mapped["Ticket | None"] = relationship(remote_side=[id])
    referrals = relationship("Referral", back_populates="ticket", order_by="Referral.id")
    reliefs = relationship("AdvanceRelief", order_by="AdvanceRelief.id")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_ticket_status_priority", "status", "priority"),
        Index("ix_ticket_owner_status", "first_contact_owner_id", "status"),
        # Reports: advance relief whose paperwork is still missing, by deadline.
        Index("ix_ticket_paperwork_open", "paperwork_done_at", "paperwork_due_at"),
        # The desk's unclaimed tickets, oldest first: without it a million tickets are walked in date order.
        Index("ix_ticket_status_created", "status", "created_at"),
        # The unclaimed queue by triaged urgency, then age.
        Index("ix_ticket_status_priority_created", "status", "priority", "created_at"),
        # The duplicates merged into a ticket: a partner whose case was merged still hears of the ticket it went to.
        Index("ix_ticket_merged_into_id", "merged_into_id"),
        # Partner sync (GET /api/v1/tickets): what changed since a cursor, in (updated_at, id) order.
        Index("ix_ticket_updated_id", "updated_at", "id"),
        # A caller's tickets. Every text message looks up its sender's newest open ticket
        # (``hotline.intake.service._SENDER``): the ticket's columns it reads are all here, so SQLite reads no
        # ticket row (the id is the index's rowid). None of them changes often.
        Index(
            "ix_ticket_contact_open",
            "contact_id",
            "status",
            "created_at",
            "number",
            "priority",
            "triage_priority",
            "first_contact_owner_id",
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# The desk's urgent alerts (hotline.tickets.queries.urgent_alerts): open tickets with an urgent
# triage, in the alerts' order. Partial: a few hundred rows at a million tickets (528 in the bulk
# demo), where the status indexes hold every open ticket (7,837 there) and the triage is read from each.
Index(
    "ix_ticket_urgent_triage",
    Ticket.triage_priority,
    Ticket.created_at,
    Ticket.id,
    sqlite_where=and_(Ticket.status.in_(OPEN_STATUSES), Ticket.triage_priority.in_(URGENT_PRIORITIES)),
    postgresql_where=and_(Ticket.status.in_(OPEN_STATUSES), Ticket.triage_priority.in_(URGENT_PRIORITIES)),
)


class TicketEvent(db.Model):
    """One line of a ticket's history: the timeline, the audit trail, the report source.

    Rows are only ever inserted; the ORM refuses updates and deletes.
    """

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    #: The referral it concerns; department staff see only their own referrals' events.
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    #: Who did it; empty for the system (scheduler, webhook).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: What happened: created, note, priority_changed, owner_changed, callback...
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        # Events are read by ticket (the timeline, reports, clocks), never by kind alone: no index on kind, which
        # every text message would write an entry in.
        Index("ix_ticket_event_ticket_at", "ticket_id", "at"),
        #: Partial: most events concern no referral (every text message writes one).
        Index(
            "ix_ticket_event_referral_id",
            "referral_id",
            sqlite_where=text("referral_id IS NOT NULL"),
            postgresql_where=text("referral_id IS NOT NULL"),
        ),
    )


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _events_are_append_only(mapper, connection, target):
    raise RuntimeError("ticket events are append-only")


class TicketSequence(db.Model):
    """The last ticket number issued for a day; bumped atomically to number tickets."""

    __tablename__ = "ticket_sequence"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
