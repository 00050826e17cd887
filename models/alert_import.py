"""An import of the monitoring platform's alerts through the page: its rows, checked, then imported in steps."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime

#: previewed: checked, nothing imported yet; importing: the commit has begun (a step at a time); done.
STATUSES = ("previewed", "importing", "done")


class AlertImport(db.Model):
    """One uploaded export: who uploaded it, when, and how far its import has gone (the progress bar)."""

    __tablename__ = "alert_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="previewed")
    #: Alert rows in the file (blank rows not counted), and those valid at the preview.
    total: Mapped[int] = mapped_column(Integer, default=0)
    valid: Mapped[int] = mapped_column(Integer, default=0)
    #: Valid rows imported so far, and what became of them.
    processed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    added_to_open: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Bumped by each step, which claims the import by it: two steps at once never import the same rows.
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_by = relationship("User")


class AlertImportRow(db.Model):
    """One row of the file: what it said (normalised), why it is not valid, and what became of it."""

    __tablename__ = "alert_import_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("alert_import.id"))
    #: The row number the spreadsheet shows.
    row: Mapped[int] = mapped_column(Integer)
    #: The fields as read (``alerts.toml`` field names), for the import and the report.
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Why the row cannot be imported (empty: valid).
    error: Mapped[str | None] = mapped_column(Text)
    #: What the preview expects: created, added_to_open or duplicate (empty for an invalid row).
    predicted: Mapped[str | None] = mapped_column(String(16))
    #: What the import did: created, added_to_open, duplicate, error (empty until imported).
    outcome: Mapped[str | None] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))

    ticket = relationship("Ticket")

    __table_args__ = (UniqueConstraint("import_id", "row", name="uq_alert_import_row"),)
