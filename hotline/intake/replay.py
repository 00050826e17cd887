"""Replaying the intake spool: each spooled Twilio request through the webhook's own writes, in arrival order.

Run by the scheduler every few seconds (``run_spool_replay``), by each web
worker of gunicorn for its own node's spool (``start_web_replayer``, so that a
node without a scheduler still gets its spool replayed) and by
``flask --app app hotline spool replay``. One replayer at a time works
through the spool (``Spool.replaying``); each record is claimed by an atomic
rename first, so a second process never takes the same one.

For each record, oldest first: the webhook's ``store_*`` function runs with
the record's arrival time as ``now``. The services are keyed by the provider's
SID (MessageSid, CallSid, RecordingSid), so a request that was in fact stored
before the failure is found and not stored twice. A text message stored by
the replay gets its usual answer, with its ticket's number, through the
outbox (its webhook answer said the number would follow). When the database
fails again, the record goes back to the spool and the replay stops there, so
nothing later overtakes it; a record that can never be replayed (unreadable,
unknown endpoint, refused by a domain rule or by the database's constraints)
is quarantined with the reason.
"""

import json
import logging
import threading
from collections import Counter
from datetime import datetime

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.intake import intake, service
from hotline.intake.spool import DATABASE_ERRORS, UNAVAILABLE, BadRecord, Record, Spool
from hotline.intake.writelock import bounded
from hotline.notify.service import enqueue_sms
from hotline.timeutil import utcnow
from models.interaction import Interaction
from models.outbox import OutboundMessage
from models.ticket import Ticket

log = logging.getLogger(__name__)

#: Records replayed in one run at most; the rest wait for the next run.
BATCH = 5000
#: Longest one record's replay waits for SQLite's write turn and lock before the run stops (and retries later).
REPLAY_WAIT_SECONDS = 10
#: Requests waiting longer than this in the spool are shown to managers.
LATE_SECONDS = 60


def _endpoints() -> dict:
    from hotline.intake.views import STORES

    return STORES


def _stored(sid: str | None, column=Interaction.provider_sid) -> bool:
    return sid is not None and db.session.scalar(select(Interaction.id).where(column == sid).limit(1)) is not None


def _first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _identity(record: Record) -> tuple:
    """The column and SID that tell whether the record's request is stored already; (None, None): a status."""
    if record.endpoint == "sms":
        return Interaction.provider_sid, _first(record.form, "MessageSid")
    if record.endpoint in ("voice", "voice_menu"):
        return Interaction.provider_sid, _first(record.form, "CallSid")
    if record.endpoint == "recording":
        return Interaction.recording_sid, _first(record.form, "RecordingSid")
    return None, None


def _number_follows(record: Record, *, now: datetime) -> bool:
    """Text a stored message's usual answer (with its ticket's number) to the sender, once; False if not now.

    The webhook answered that the number follows by SMS, so this holds also
    when the message turns out to have been stored before the failure. Not
    for a stop or start word (answered in full already), nor when the answer
    was queued already (a replay interrupted after the message was stored).
    """
    sid = _first(record.form, "MessageSid")
    row = db.session.execute(
        select(Interaction.ticket_id, Interaction.reply, Interaction.from_number).where(Interaction.provider_sid == sid)
    ).first()
    if row is None or row.ticket_id is None or not row.reply:
        return False
    word = (_first(record.form, "Body") or "").strip().upper()
    policy = intake().policy
    if word in policy.stop_words or word in policy.start_words:
        return False
    queued = select(OutboundMessage.id).where(
        OutboundMessage.ticket_id == row.ticket_id,
        OutboundMessage.body == row.reply,
        OutboundMessage.created_at >= record.received_at,
    )
    if db.session.scalar(queued.limit(1)) is not None:
        return False
    enqueue_sms(to=row.from_number or "", body=row.reply, now=now, ticket=db.session.get(Ticket, row.ticket_id))
    db.session.commit()
    return True


def replay_one(record: Record, *, now: datetime) -> str:
    """Run one record's writes; return "stored", "duplicate" (its SID was stored already) or "applied" (a status).

    Database errors propagate: the caller tells a transient one from one that quarantines.
    """
    column, sid = _identity(record)
    before = _stored(sid, column) if column is not None else None
    store, required = _endpoints()[record.endpoint]
    for name in required:
        if not _first(record.form, name):
            raise BadRecord(f"schema: the form has no {name}")
    form, args = MultiDict(record.form), MultiDict(record.args)
    store(form, args, record.received_at, record.answer)
    if column is None:
        return "applied"
    if record.endpoint == "sms":
        _number_follows(record, now=now)
    return "duplicate" if before else "stored"


def replay(spool: Spool, *, now: datetime, limit: int = BATCH, wait: float = REPLAY_WAIT_SECONDS) -> dict:
    """Replay what waits in ``spool`` and return what was done (JSON-ready).

    ``wait``: how long one record may wait for SQLite's write turn and lock
    before the run stops there (the database counts as unavailable).
    """
    report = {
        "replayed": {},
        "stored": 0,
        "duplicates": 0,
        "applied": 0,
        "quarantined": 0,
        "left": 0,
        "stopped": None,
    }
    by_endpoint: Counter = Counter()
    with spool.replaying() as alone:
        if not alone:
            report["stopped"] = "another replay is running"
            report["left"] = len(spool.waiting_names())
            return report
        spool.recover()
        endpoints = _endpoints()
        for name in spool.pending_names()[:limit]:
            claimed = spool.claim(name)
            if claimed is None:
                continue
            try:
                record = spool.load(claimed, endpoints)
            except (BadRecord, OSError) as exc:
                _quarantine(spool, claimed, str(exc), now, report)
                continue
            try:
                with bounded(wait):
                    outcome = replay_one(record, now=now)
            except BadRecord as exc:
                _quarantine(spool, claimed, str(exc), now, report)
                continue
            except UNAVAILABLE as exc:
                _rollback()
                spool.release(claimed)
                report["stopped"] = f"database unavailable: {type(exc).__name__}"
                log.warning("spool replay stopped at %s: the database is unavailable (%s)", name, exc)
                break
            except (*DATABASE_ERRORS, DomainError, ValueError, KeyError, TypeError) as exc:
                _rollback()
                _quarantine(spool, claimed, f"{type(exc).__name__}: {exc}", now, report)
                continue
            spool.done(claimed)
            by_endpoint[record.endpoint] += 1
            report[{"stored": "stored", "duplicate": "duplicates", "applied": "applied"}[outcome]] += 1
        if report["stopped"] is None and not _refresh_roster(spool):
            report["stopped"] = "database unavailable"
    report["replayed"] = dict(sorted(by_endpoint.items()))
    report["left"] = len(spool.waiting_names())
    return report


def _refresh_roster(spool: Spool) -> bool:
    """Read the duty roster into the snapshot (for calls while the database is away); False if it failed."""
    try:
        spool.save_roster(service.duty_lines())
        db.session.rollback()
    except UNAVAILABLE as exc:
        _rollback()
        log.warning("the duty roster could not be read for its snapshot: %s", exc)
        return False
    spool.mark_up()
    return True


def _rollback() -> None:
    try:
        db.session.rollback()
    except DATABASE_ERRORS as exc:
        log.warning("rollback after a database failure failed too: %s", exc)
    db.session.remove()


def _quarantine(spool: Spool, claimed, reason: str, now: datetime, report: dict) -> None:
    name = spool.quarantine(claimed, reason, now=now)
    report["quarantined"] += 1
    log.error("spool record %s quarantined: %s", name, reason)


def run_spool_replay(app) -> dict:
    """The scheduler's job: replay the spool; with nothing waiting, refresh the duty roster snapshot only."""
    with app.app_context():
        spool = intake().spool
        try:
            if not spool.waiting_names():
                _refresh_roster(spool)
                return {}
            report = replay(spool, now=utcnow())
        finally:
            db.session.remove()
    if report["stored"] or report["duplicates"] or report["applied"] or report["quarantined"]:
        log.info("spool replayed: %s", json.dumps(report, ensure_ascii=False))
    return report


def replay_if_waiting(app) -> dict | None:
    """A web worker's look at its node's spool: replay it when records wait, else nothing (no database query).

    The look is two listings of the spool's folders; the replay is
    ``run_spool_replay``'s, under the spool's replay lock, so the workers of a
    node (and a scheduler on it) never replay at once. None when nothing waits.
    """
    with app.app_context():
        if not intake().spool.waiting_names():
            return None
    return run_spool_replay(app)


def _replay_every(app, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            replay_if_waiting(app)
        except Exception:  # the thread must outlive any one failure; the next look tries again
            log.exception("the web worker's spool replay failed")


def start_web_replayer(app, stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the daemon thread that replays this node's spool every ``HOTLINE_WEB_SPOOL_REPLAY_SECONDS``.

    Called by gunicorn for each web worker (``post_worker_init`` in
    ``deploy/gunicorn.conf.py``). The SMS path is not touched: the thread looks
    at the spool's folders on its own clock, and replays only when a record
    waits, that is after the database was away. None when the setting is 0.
    """
    every = app.config["WEB_SPOOL_REPLAY_SECONDS"]
    if every <= 0:
        return None
    thread = threading.Thread(
        target=_replay_every, args=(app, every, stop or threading.Event()), name="spool-replay", daemon=True
    )
    thread.start()
    return thread


spool_cli = AppGroup("spool", help="The intake spool: Twilio requests kept while the database was away.")


@spool_cli.command("replay")
def replay_command():
    """Replay the spool now and print JSON: counts by endpoint, stored, duplicates, quarantined, left."""
    report = replay(intake().spool, now=utcnow())
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@spool_cli.command("status")
def status_command():
    """Print JSON: records waiting, the oldest one's age in seconds, records quarantined."""
    click.echo(json.dumps(intake().spool.stats(utcnow()) | {"folder": str(intake().spool.root)}, indent=2))


def spool_warning(now: datetime) -> str | None:
    """The managers' warning when requests have waited in the spool more than ``LATE_SECONDS``; else None."""
    stats = intake().spool.stats(now)
    if not stats["count"] or stats["oldest_age_seconds"] <= LATE_SECONDS:
        return None
    return _(
        "%(count)s calls or texts received while the database was unavailable are not stored yet "
        "(the oldest for %(minutes)s min): callers wait for their ticket number. Check the database and "
        "the scheduler; an admin sees them under Spool.",
        count=stats["count"],
        minutes=max(1, stats["oldest_age_seconds"] // 60),
    )
