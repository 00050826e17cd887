"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from models.audit import AuditLog
from models.contact import Contact
from models.department import Department
from models.interaction import Interaction
from models.ticket import Ticket, TicketEvent, TicketSequence
from models.user import User

__all__ = [
    "AuditLog",
    "Contact",
    "Department",
    "Interaction",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "User",
]
