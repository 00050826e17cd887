"""Intake on the operator's desk: the live calls-and-messages panel, and answering a caller by SMS."""

from datetime import timedelta

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import labels
from hotline.access import can_ticket_call, load_ticket
from hotline.actions import run_form_action
from hotline.extensions import db
from hotline.formatting import localtime
from hotline.intake.forms import SmsForm
from hotline.intake.service import CALL_ENDED
from hotline.notify.service import text_caller
from hotline.privacy import mask_phone
from hotline.security import require_role
from hotline.tickets.page import render_ticket, triage_headline
from hotline.tickets.queries import unclaimed, urgent_alerts
from hotline.timeutil import utcnow
from models.interaction import Interaction, voice
from models.ticket import Ticket
from models.user import HOTLINE_ROLES

bp = Blueprint("intake", __name__)

#: How far back the panel shows calls, and how many at most.
CALL_WINDOW = timedelta(hours=12)
CALL_LIMIT = 15


def call_state(call: Interaction) -> str:
    """ringing, in_call, missed or ended: what the operator needs to know at a glance.

    A call has ended when its end was recorded or its last provider status is a
    final one (Twilio's ``completed``, ``busy``...): a call an operator logged by
    hand is ``completed`` from the start, as are the ones logged before they got
    an end time.
    """
    if call.missed_at is not None:
        return "missed"
    if call.ended_at is not None or call.status in CALL_ENDED:
        return "ended"
    return "ringing" if call.answered_at is None else "in_call"


@bp.get("/desk/live")
@require_role(*HOTLINE_ROLES)
def live():
    """Incoming and recent calls, the tickets waiting for an operator, and the urgent texts nobody has acted on
    yet (the alert banner), for the desk to poll."""
    now = utcnow()
    calls = list(
        db.session.scalars(
            select(Interaction)
            .where(
                voice(),
                Interaction.direction == "inbound",
                Interaction.started_at >= now - CALL_WINDOW,
            )
            .options(joinedload(Interaction.handled_by))
            .order_by(Interaction.started_at.desc(), Interaction.id.desc())
            .limit(CALL_LIMIT)
        )
    )
    ticket_ids = {c.ticket_id for c in calls if c.ticket_id}
    numbers = dict(db.session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids))).all())

    def call_row(call: Interaction) -> dict:
        number = numbers.get(call.ticket_id)
        state = call_state(call)
        return {
            "id": call.id,
            "from": mask_phone(call.from_number) if call.from_number else "",
            "state": state,
            "state_label": str(labels.CALL_STATE[state]),
            "line": str(labels.CALL_LINE.get(call.menu_choice, "")) if call.menu_choice else "",
            "started": localtime(call.started_at, "HH:mm"),
            "answered_by": call.handled_by.display_name if call.handled_by else "",
            "mine": call.handled_by_id == current_user.id,
            "ticket": {"number": number, "url": url_for("tickets.show", number=number)} if number else None,
            "draft_url": url_for("tickets.new_call", call=call.id) if can_ticket_call(call, current_user) else None,
        }

    def ticket_row(ticket: Ticket) -> dict:
        return {
            "number": ticket.number,
            "url": url_for("tickets.show", number=ticket.number),
            "take_url": url_for("tickets.take", number=ticket.number),
            "version": ticket.version,
            "priority": ticket.priority,
            "channel": str(labels.CHANNEL.get(ticket.channel, ticket.channel)),
            "created": localtime(ticket.created_at, "MM-dd HH:mm"),
            "summary": ticket.summary,
        }

    def alert_row(ticket: Ticket) -> dict:
        return {
            "number": ticket.number,
            "url": url_for("tickets.show", number=ticket.number),
            "priority": ticket.triage_priority,
            "triage": triage_headline(ticket),
            "created": localtime(ticket.created_at, "MM-dd HH:mm"),
            "owned": ticket.status != "new",
        }

    response = jsonify(
        calls=[call_row(c) for c in calls],
        unclaimed=[ticket_row(t) for t in unclaimed()],
        alerts=[alert_row(t) for t in urgent_alerts()],
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tickets/<number>/sms")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def sms(number: str):
    """Answer the caller by SMS; it leaves through the outbox, and their replies land on this ticket."""
    ticket = load_ticket(number)
    form = SmsForm()
    return run_form_action(
        form,
        lambda: text_caller(ticket, actor=current_user, now=utcnow(), text=form.text.data),
        render=lambda status, error: render_ticket(ticket, status=status, override={"sms": form}, error=error),
        done_url=url_for("tickets.show", number=ticket.number),
        message=_("Text message queued; it leaves within a minute."),
    )
