"""Admin page of the intake spool: Twilio requests waiting for the database, and those quarantined."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from hotline import audit
from hotline.extensions import db
from hotline.intake import intake
from hotline.intake.replay import replay
from hotline.intake.spool import UNAVAILABLE
from hotline.security import require_role
from hotline.timeutil import utcnow

bp = Blueprint("spool", __name__, url_prefix="/admin/spool")

#: Rows shown of each list; the page says how many more there are.
SHOWN = 200
#: Records one click replays at most (the scheduler goes on with the rest).
CLICK_BATCH = 500


class RetryForm(FlaskForm):
    name = HiddenField(validators=[DataRequired(), Length(max=120)])


@bp.get("")
@require_role("admin")
def index():
    from hotline.intake.views import STORES

    spool = intake().spool
    now = utcnow()
    waiting, waiting_total = spool.listing("waiting", STORES, SHOWN)
    quarantined, quarantined_total = spool.listing("quarantine", STORES, SHOWN)
    return render_template(
        "intake/spool.html",
        stats=spool.stats(now),
        waiting=waiting,
        waiting_total=waiting_total,
        quarantined=quarantined,
        quarantined_total=quarantined_total,
        form=FlaskForm(),
        retry_form=RetryForm(),
        shown=SHOWN,
    )


def _replay_now(requeued: str | None = None):
    """Replay up to ``CLICK_BATCH`` records, audit it, and say what happened."""
    now = utcnow()
    report = replay(intake().spool, now=now, limit=CLICK_BATCH)
    try:
        audit.record(
            "spool_replayed",
            actor_id=current_user.id,
            now=now,
            target=requeued,
            stored=report["stored"],
            duplicates=report["duplicates"],
            applied=report["applied"],
            quarantined=report["quarantined"],
            left=report["left"],
        )
        db.session.commit()
    except UNAVAILABLE:
        db.session.rollback()
    if report["stopped"] and report["stopped"].startswith("database unavailable"):
        flash(_("The database is still unavailable: the records stay in the spool."), "danger")
    elif report["stopped"]:
        flash(_("Another replay is running: look again in a moment."), "warning")
    flash(
        _(
            "Replayed: %(stored)s stored, %(duplicates)s already stored, %(applied)s status reports, "
            "%(quarantined)s quarantined; %(left)s still waiting.",
            stored=report["stored"],
            duplicates=report["duplicates"],
            applied=report["applied"],
            quarantined=report["quarantined"],
            left=report["left"],
        ),
        "success" if not report["quarantined"] else "warning",
    )
    return redirect(url_for("spool.index"))


@bp.post("/replay")
@require_role("admin")
def replay_all():
    if not FlaskForm().validate_on_submit():
        abort(400)
    return _replay_now()


@bp.post("/retry")
@require_role("admin")
def retry():
    """Put one quarantined record back in the spool (after the cause was fixed) and replay."""
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    if not intake().spool.requeue(form.name.data):
        flash(_("That record is no longer in quarantine."), "warning")
        return redirect(url_for("spool.index"))
    return _replay_now(requeued=form.name.data)
