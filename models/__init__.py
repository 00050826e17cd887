"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from models.audit import AuditLog
from models.calendar import CalendarDay, CalendarYear
from models.contact import Contact
from models.department import Department
from models.duty import DutyLine
from models.escalation import EscalationStep, Heartbeat
from models.external_report import ExternalReport
from models.interaction import Interaction
from models.login_attempt import LoginAttempt
from models.notification import Notification
from models.outbox import OutboundMessage
from models.referral import Referral
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.ticket import Ticket, TicketEvent, TicketSequence
from models.user import User
from models.visit import Visit, VisitEscalation, VisitPlan

__all__ = [
    "AdvanceRelief",
    "AdvanceReliefPayment",
    "AuditLog",
    "CalendarDay",
    "CalendarYear",
    "Contact",
    "Department",
    "DutyLine",
    "EscalationStep",
    "ExternalReport",
    "Heartbeat",
    "Interaction",
    "LoginAttempt",
    "Notification",
    "OutboundMessage",
    "Referral",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "User",
    "Visit",
    "VisitEscalation",
    "VisitPlan",
]
