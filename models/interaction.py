"""Every call and message that reached or left the hotline."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, bindparam, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime

CHANNELS = ("voice", "sms", "web", "api", "walk_in", "proactive")
DIRECTIONS = ("inbound", "outbound")


class Interaction(db.Model):
    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8), default="inbound")
    #: Twilio CallSid / MessageSid; unique so a replayed webhook creates nothing.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    from_number: Mapped[str | None] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    #: The from number could not be parsed as a phone number; kept as given.
    number_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Not indexed: nothing looks interactions up by contact (a contact's calls and texts are on their tickets),
    #: and every inbound call and text would write one more index page (migration 0021).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: Provider status: ringing, in-progress, completed, no-answer, received, delivered...
    status: Mapped[str | None] = mapped_column(String(24))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    #: A text the caller sent on their open ticket: shown on its timeline from this row (``sms_in``), written
    #: once; no event repeats it (migration 0023). Earlier follow-ups have an ``sms_in`` event and None here.
    follow_up: Mapped[bool | None] = mapped_column(Boolean)
    recording_url: Mapped[str | None] = mapped_column(String(512))
    recording_seconds: Mapped[int | None] = mapped_column(Integer)
    #: Twilio RecordingSid of the voicemail; unique so a replayed callback attaches nothing twice.
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    #: The line the caller chose in the voice menu: urgent (救急难) or policy (政策咨询).
    menu_choice: Mapped[str | None] = mapped_column(String(16))
    #: The automatic answer texted back (TwiML <Message>), kept so a replayed webhook gets the same one.
    reply: Mapped[str | None] = mapped_column(Text)
    #: When the call was found missed (nobody answered); set once, it starts the callback clock.
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    media_urls: Mapped[list | None] = mapped_column(JSON)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    contact = relationship("Contact")
    handled_by = relationship("User")

    __table_args__ = (
        #: Reports and the desk's call panel: inbound calls of a period (answer rate, time to answer or call back).
        #: Partial: texts, most of the rows, write no entry. A query reads it with :func:`voice` in its WHERE.
        Index(
            "ix_interaction_voice_direction_started",
            "direction",
            "started_at",
            sqlite_where=text("channel = 'voice'"),
            postgresql_where=text("channel = 'voice'"),
        ),
        #: Partial: most interactions have no recording, and every text message would write an entry.
        Index(
            "uq_interaction_recording_sid",
            "recording_sid",
            unique=True,
            sqlite_where=text("recording_sid IS NOT NULL"),
            postgresql_where=text("recording_sid IS NOT NULL"),
        ),
    )


def voice():
    """Calls (not texts), as the condition of the partial index ``ix_interaction_voice_direction_started``: the
    value written in the SQL, not bound, because SQLite reads a partial index only then."""
    return Interaction.channel == bindparam("voice_channel", "voice", literal_execute=True)
