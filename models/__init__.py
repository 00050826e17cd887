"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from models.alert_import import AlertImport, AlertImportRow
from models.api_token import ApiIdempotency, ApiRateWindow, ApiToken
from models.audit import AuditLog
from models.calendar import CalendarDay, CalendarYear
from models.contact import Contact
from models.department import Department
from models.duty import DutyLine
from models.escalation import EscalationStep, Heartbeat
from models.external_report import ExternalReport
from models.fund import Fund, FundEntry, FundPayoutRequest
from models.interaction import Interaction
from models.login_attempt import LoginAttempt
from models.notification import Notification
from models.outbox import OutboundMessage
from models.referral import Referral
from models.relative import DeclaredRelative
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.relief_document import ReliefDocument
from models.relief_service import ReliefService
from models.ticket import Ticket, TicketEvent, TicketSequence
from models.user import User
from models.visit import Visit, VisitEscalation, VisitPlan
from models.webhook import WebhookDelivery, WebhookSubscription

__all__ = [
    "AdvanceRelief",
    "AdvanceReliefPayment",
    "AlertImport",
    "AlertImportRow",
    "ApiIdempotency",
    "ApiRateWindow",
    "ApiToken",
    "AuditLog",
    "CalendarDay",
    "CalendarYear",
    "Contact",
    "DeclaredRelative",
    "Department",
    "DutyLine",
    "EscalationStep",
    "ExternalReport",
    "Fund",
    "FundEntry",
    "FundPayoutRequest",
    "Heartbeat",
    "Interaction",
    "LoginAttempt",
    "Notification",
    "OutboundMessage",
    "Referral",
    "ReliefDocument",
    "ReliefService",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "User",
    "Visit",
    "VisitEscalation",
    "VisitPlan",
    "WebhookDelivery",
    "WebhookSubscription",
]
