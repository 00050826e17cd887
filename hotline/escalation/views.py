"""Health check, clock actions on the ticket page, and the manager's supervision list."""

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from hotline.access import load_ticket
from hotline.actions import run_form_action
from hotline.escalation import service
from hotline.escalation.sweep import heartbeat_age
from hotline.extensions import db
from hotline.grid.visits import supervised_plans
from hotline.security import require_role
from hotline.tickets.page import render_ticket
from hotline.timeutil import local_date, utcnow
from models.escalation import BREACH_LEVELS
from models.ticket import OPEN_STATUSES, Ticket
from models.user import HOTLINE_ROLES

bp = Blueprint("escalation", __name__)


class ReasonForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    reason = StringField(validators=[DataRequired(), Length(max=500)])


class VersionForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])


def scheduler_health(now) -> dict:
    """Heartbeat ages and whether the sweep is late (older than three sweep intervals)."""
    ages = {name: heartbeat_age(name, now=now) for name in ("sweep", "scheduler", "outbox")}
    limit = 3 * current_app.config["SWEEP_SECONDS"]
    return {"ages": ages, "stale": ages["sweep"] is None or ages["sweep"] > limit, "limit_seconds": limit}


@bp.get("/healthz")
def healthz():
    """JSON for load balancers and monitoring: database reachable, heartbeat ages, the intake spool.

    No personal data. The spool (``spool``: records waiting, the oldest one's
    age in seconds, records quarantined) is reported also while the database is away.
    """
    from hotline.intake import intake

    now = utcnow()
    spool = intake().spool.stats(now)
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        db.session.rollback()
        return jsonify(database="error", error=type(exc).__name__, spool=spool), 503
    health = scheduler_health(now)
    return jsonify(
        database=database,
        spool=spool,
        sweep_heartbeat_age_seconds=health["ages"]["sweep"],
        scheduler_heartbeat_age_seconds=health["ages"]["scheduler"],
        outbox_heartbeat_age_seconds=health["ages"]["outbox"],
        sweep_stale=health["stale"],
    )


def _act(number: str, form, action, message):
    ticket = load_ticket(number)
    return run_form_action(
        form,
        lambda: action(ticket),
        render=lambda status, error: render_ticket(ticket, status=status, error=error or _("Give a reason.")),
        done_url=url_for("tickets.show", number=ticket.number),
        message=message,
    )


@bp.post("/tickets/<number>/pause")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def pause(number: str):
    form = ReasonForm(prefix="pause")
    return _act(
        number,
        form,
        lambda t: service.pause_clocks(
            t, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        _("Clocks paused."),
    )


@bp.post("/tickets/<number>/resume")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def resume(number: str):
    form = VersionForm(prefix="resume")
    return _act(
        number,
        form,
        lambda t: service.resume_clocks(t, actor=current_user, now=utcnow(), expected_version=form.version.data),
        _("Clocks resumed."),
    )


@bp.post("/tickets/<number>/supervise")
@require_role("manager", not_found_for=("department",))
def supervise(number: str):
    form = ReasonForm(prefix="supervise")
    return _act(
        number,
        form,
        lambda t: service.supervise(
            t, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        _("The case is now supervised (督办)."),
    )


@bp.get("/supervision")
@require_role("manager")
def supervision():
    """督办: open cases past a deadline or supervised, worst first."""
    now = utcnow()
    stmt = (
        select(Ticket)
        .where(
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.escalation_level.in_(BREACH_LEVELS) | (Ticket.next_deadline_at < now),
        )
        .options(joinedload(Ticket.first_contact_owner), joinedload(Ticket.contact))
        .order_by(Ticket.next_deadline_at.is_(None), Ticket.next_deadline_at, Ticket.id)
    )
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=current_app.config["PAGE_SIZE"], error_out=False
    )
    return render_template(
        "escalation/supervision.html",
        page=page,
        now=now,
        visits=supervised_plans(limit=50),
        today=local_date(now),
    )
