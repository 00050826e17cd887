"""The photos field staff sent with their reports, on the ticket page and on a unit's referral page."""

from flask_login import current_user
from sqlalchemy import select

from hotline import access
from hotline.extensions import db
from models.external_report import ExternalReport
from models.ticket import Ticket


def photos_panel(ticket: Ticket) -> dict:
    """The reports of ``ticket`` that carry a photo the reader may see (an empty list shows nothing)."""
    found = db.session.scalars(
        select(ExternalReport)
        .where(ExternalReport.ticket_id == ticket.id, ExternalReport.via.in_(("grid_page", "visit")))
        .order_by(ExternalReport.received_at, ExternalReport.id)
    )
    return {"reports": [r for r in found if r.extra.get("photo") and access.can_see_report_photo(current_user, r)]}
