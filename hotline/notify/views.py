"""Admin page of the outbox: messages that failed or were never sent, and sending them again."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.notify.service import DELIVERY_LABELS, ERROR_LABELS, requeue
from hotline.security import require_role
from hotline.timeutil import utcnow
from models.outbox import STATUSES, OutboundMessage
from models.ticket import Ticket

bp = Blueprint("notify", __name__, url_prefix="/admin/outbox")

#: Tabs of the page; the first is what admins must act on.
SCOPES = {"problems": ("failed", "not_sent"), "waiting": ("queued", "sending"), "sent": ("sent",), "all": STATUSES}


@bp.get("")
@require_role("admin")
def outbox():
    scope = request.args.get("scope", "problems")
    if scope not in SCOPES:
        scope = "problems"
    page = db.paginate(
        select(OutboundMessage)
        .where(OutboundMessage.status.in_(SCOPES[scope]))
        .options(joinedload(OutboundMessage.interaction))
        .order_by(OutboundMessage.created_at.desc(), OutboundMessage.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    ticket_ids = {m.ticket_id for m in page.items if m.ticket_id}
    numbers = dict(db.session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids))).all())
    return render_template(
        "notify/outbox.html",
        page=page,
        scope=scope,
        numbers=numbers,
        form=FlaskForm(),
        error_labels=ERROR_LABELS,
        delivery_labels=DELIVERY_LABELS,
    )


@bp.post("/<int:message_id>/retry")
@require_role("admin")
def retry(message_id: int):
    message = db.session.get(OutboundMessage, message_id) or abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        requeue(message, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("The message will be sent again."), "success")
    return redirect(url_for("notify.outbox"))
