"""The clocks panel of the ticket page: every running deadline, and pausing, resuming and supervising by hand."""

from flask_login import current_user

from hotline import access
from hotline.escalation import clocks
from models.ticket import Ticket


def clock_panel(ticket: Ticket) -> dict:
    """Every running clock of the ticket and its referrals, soonest first, and what the reader may do with them."""
    rows = [{"clock": s.clock, "start": s.start, "due": s.due, "unit": None} for s in clocks.ticket_spans(ticket)]
    for referral in ticket.referrals:
        rows += [
            {"clock": s.clock, "start": s.start, "due": s.due, "unit": referral.department.name}
            for s in clocks.referral_spans(referral)
        ]
    return {
        "rows": sorted(rows, key=lambda row: row["due"]),
        "can_manage": access.can_manage_ticket(current_user, ticket),
        "can_supervise": access.can_supervise(current_user),
    }
