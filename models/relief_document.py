"""Papers of a case (补齐手续): the files uploaded for a grant, kept outside the static folder."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime
from models.user import User


class ReliefDocument(db.Model):
    """One uploaded paper of a case: an ID card, the household register, hospital bills, the application form..."""

    __tablename__ = "relief_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: A document kind of ``relief_rules.toml`` (``id_card``, ``hospital_bills``, ``case_conference``...).
    kind: Mapped[str] = mapped_column(String(24))
    #: The name the file had on the uploader's computer, cleaned: shown and offered on download, never used as a path.
    display_name: Mapped[str] = mapped_column(String(120))
    #: The random name it is stored under in the upload folder (``UPLOAD_DIR``).
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    #: What its content is (``application/pdf``, ``image/jpeg``, ``image/png``), read from its first bytes.
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 of the content, so an inspector can tell the file was not changed.
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    uploaded_by: Mapped[User] = relationship()
