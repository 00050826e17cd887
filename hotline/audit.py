"""Writing the audit trail for decisions that are not about a single ticket."""

from datetime import datetime

from hotline.extensions import db
from models.audit import AuditLog


def record(kind: str, *, actor_id: int | None, now: datetime, target: str | None = None, **payload) -> AuditLog:
    """Append one audit entry in the current transaction (the caller commits)."""
    entry = AuditLog(kind=kind, actor_id=actor_id, target=target, payload=payload, at=now)
    db.session.add(entry)
    return entry
