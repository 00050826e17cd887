"""The scheduler process: ``flask --app app hotline scheduler``. Never started inside web workers.

APScheduler 3.x runs five jobs, each inside its own application context (its
own database session, removed when the run ends) and each reading the clock
only at this edge: the escalation sweep (``hotline.escalation.sweep``) every
``HOTLINE_SWEEP_SECONDS``, the overdue household visits' sweep
(``hotline.grid.visits``) as often, the SMS outbox sender
(``hotline.jobs.outbox``) every ``HOTLINE_OUTBOX_SECONDS``, the replay of this
node's intake spool (Twilio requests kept while the database was away,
``hotline.intake.replay``; the web workers replay their node's spool too)
every ``SPOOL_SECONDS``, the partner webhooks
(``hotline.webhooks.service.send_due``) every ``WEBHOOK_SECONDS``, and a
heartbeat every ``HOTLINE_SWEEP_SECONDS``. Each job coalesces missed runs and
never runs twice at once.
"""

import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from hotline.escalation.sweep import beat, sweep
from hotline.extensions import db
from hotline.grid.visits import sweep_visits
from hotline.intake.replay import run_spool_replay
from hotline.jobs.outbox import send_outbox
from hotline.timeutil import utcnow
from hotline.webhooks.policy import webhook_policy
from hotline.webhooks.service import send_due

log = logging.getLogger(__name__)

#: How often the intake spool is replayed: a caller waits for their ticket number until then.
SPOOL_SECONDS = 5
#: How often due partner webhooks are sent (retries wait as ``webhooks.toml`` says).
WEBHOOK_SECONDS = 10


def run_sweep(app: Flask) -> dict:
    """One escalation sweep as of now; logs the steps it wrote and returns its report."""
    with app.app_context():
        try:
            report = sweep(now=utcnow())
        finally:
            db.session.remove()
    if report["steps_written"]:
        log.info("sweep wrote %s escalation steps %s", report["steps_written"], report["by_level"])
    return report


def run_visit_sweep(app: Flask) -> dict:
    """One sweep of the overdue household visits (探访) as of now: each ladder step once, its audience told."""
    with app.app_context():
        try:
            report = sweep_visits(now=utcnow())
        finally:
            db.session.remove()
    if report["steps_written"]:
        log.info("visit sweep wrote %s steps %s", report["steps_written"], report["by_level"])
    return report


def run_outbox(app: Flask) -> None:
    """One pass of the outbox sender, then the outbox heartbeat (its age is on ``/healthz`` and the reports)."""
    with app.app_context():
        try:
            send_outbox(app)
            beat("outbox", now=utcnow())
            db.session.commit()
        finally:
            db.session.remove()


def run_webhooks(app: Flask) -> None:
    """One pass of the webhook sender over the deliveries that are due."""
    with app.app_context():
        try:
            report = send_due(now=utcnow(), policy=webhook_policy())
        finally:
            db.session.remove()
    if report.delivered or report.failed:
        log.info("webhooks: %s", report)


def run_spool(app: Flask) -> None:
    """Replay what waits in the intake spool (or, with nothing waiting, refresh its duty roster snapshot)."""
    run_spool_replay(app)


def run_heartbeat(app: Flask) -> None:
    """Record that the scheduler process is alive (its age is on ``/healthz`` and the reports)."""
    with app.app_context():
        try:
            beat("scheduler", now=utcnow())
            db.session.commit()
        finally:
            db.session.remove()


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The five jobs on their intervals, each run once at start."""
    seconds = app.config["SWEEP_SECONDS"]
    scheduler = BlockingScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": seconds}
    )
    scheduler.add_job(run_sweep, "interval", seconds=seconds, args=[app], id="sweep", next_run_time=utcnow())
    scheduler.add_job(run_visit_sweep, "interval", seconds=seconds, args=[app], id="visits", next_run_time=utcnow())
    scheduler.add_job(
        run_outbox, "interval", seconds=app.config["OUTBOX_SECONDS"], args=[app], id="outbox", next_run_time=utcnow()
    )
    scheduler.add_job(
        run_webhooks, "interval", seconds=WEBHOOK_SECONDS, args=[app], id="webhooks", next_run_time=utcnow()
    )
    scheduler.add_job(run_spool, "interval", seconds=SPOOL_SECONDS, args=[app], id="spool", next_run_time=utcnow())
    scheduler.add_job(run_heartbeat, "interval", seconds=seconds, args=[app], id="heartbeat", next_run_time=utcnow())
    return scheduler


def run_forever(app: Flask) -> None:
    """Run until SIGINT (Ctrl-C) or SIGTERM; running jobs finish their batch first."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # APScheduler says "Running job ..." at INFO for every run (every 10 s): below DEBUG it would bury
        # what matters, such as the demo logins `make run` prints. Its warnings and errors still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = build_scheduler(app)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler started: sweep every %ss", app.config["SWEEP_SECONDS"])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
