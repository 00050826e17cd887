"""Cases reported by other systems and people: partner platforms, the monitoring import, grid workers, visits."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime

#: created: the report opened its ticket; added_to_open: the person already had an open ticket and the
#: report was added to it. A report already received (same source and external id) makes no row.
OUTCOMES = ("created", "added_to_open")


class ExternalReport(db.Model):
    """One report received from a source of ``sources.toml``, and the ticket it went to."""

    __tablename__ = "external_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A source code of ``config/policy/sources.toml`` (monitoring, grid, visit, 12345...).
    source: Mapped[str] = mapped_column(String(16))
    #: The source's own id (预警编号, the 12345 case number); empty when it has none (a grid worker's report).
    external_id: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    #: When the source wants it done by (a 12345 transfer's 办结时限), as it sent it.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The staff member who reported it (a grid worker) or who imported it; empty for a partner's token.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: How it arrived: api, import, grid_page, visit.
    via: Mapped[str] = mapped_column(String(16))
    #: What else the source sent, kept as received (alert type, the token's name...).
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket = relationship("Ticket")
    reporter = relationship("User")

    __table_args__ = (
        # The same source's id never opens a second ticket (NULLs are distinct: reports without an id).
        UniqueConstraint("source", "external_id", name="uq_external_report_source_id"),
        Index("ix_external_report_source_received", "source", "received_at"),
    )
