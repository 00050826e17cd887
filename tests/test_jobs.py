"""The scheduler's jobs (hotline/jobs): which run, how often, and that each commits what it did in its session."""

from datetime import timedelta

from hotline.escalation.sweep import heartbeat_age
from hotline.extensions import db
from hotline.jobs.scheduler import (
    SPOOL_SECONDS,
    WEBHOOK_SECONDS,
    build_scheduler,
    run_heartbeat,
    run_outbox,
    run_spool,
    run_sweep,
    run_visit_sweep,
    run_webhooks,
)
from hotline.notify.service import NO_CREDENTIALS, enqueue_sms
from hotline.timeutil import utcnow
from tests.helpers import reload


def test_the_scheduler_sweeps_sends_the_outbox_replays_the_spool_and_beats(app):
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    sweep_every = timedelta(seconds=app.config["SWEEP_SECONDS"])
    assert {name: (job.func, job.trigger.interval) for name, job in jobs.items()} == {
        "sweep": (run_sweep, sweep_every),
        "visits": (run_visit_sweep, sweep_every),
        "outbox": (run_outbox, timedelta(seconds=app.config["OUTBOX_SECONDS"])),
        "spool": (run_spool, timedelta(seconds=SPOOL_SECONDS)),
        "webhooks": (run_webhooks, timedelta(seconds=WEBHOOK_SECONDS)),
        "heartbeat": (run_heartbeat, sweep_every),
    }
    assert all(job.args == (app,) for job in jobs.values())


def test_each_job_commits_what_it_did_before_its_session_is_removed(app, now):
    message = enqueue_sms(to="+8613800000000", body="您好，我们今天下午上门。", now=now)
    db.session.commit()

    report = run_sweep(app)
    assert report["steps_written"] == 0 and report["tickets_checked"] == 0
    run_outbox(app)  # the test settings have no Twilio credentials
    run_heartbeat(app)

    assert (reload(message).status, message.last_error) == ("not_sent", NO_CREDENTIALS)
    ages = {name: heartbeat_age(name, now=utcnow()) for name in ("sweep", "outbox", "scheduler")}
    assert all(age is not None and 0 <= age < 60 for age in ages.values()), ages
