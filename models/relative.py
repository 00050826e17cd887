"""Relatives staff declared (利害关系申报): a grant to one of them needs other eyes (关系保)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import db
from models.types import UTCDateTime
from models.user import User


class DeclaredRelative(db.Model):
    """A relative a staff member declared, by ID number; withdrawn rather than deleted, so the history stays."""

    __tablename__ = "declared_relative"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: 身份证号, normalised (hotline.idcard); masked on every screen.
    id_number: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: How they are related, as the staff member wrote it (父亲, 配偶, 表兄...).
    relation: Mapped[str] = mapped_column(String(40))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
