"""Intake that survives the database: Twilio webhooks answered and spooled while it is away, then replayed.

The database is made unavailable for real: on SQLite another connection holds
the write lock (and the write turn's file lock), on PostgreSQL the test
database stops taking connections and its sessions are ended.
"""

import fcntl
import json
import os
import runpy
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from hotline.extensions import db
from hotline.intake import intake
from hotline.intake.replay import replay, spool_warning
from hotline.intake.spool import FORMAT, Spool
from models.duty import DutyLine
from models.interaction import Interaction
from models.outbox import OutboundMessage
from models.ticket import Ticket, TicketEvent
from tests.conftest import login, post_form
from tests.helpers import audit_kinds, count, timeline
from tests.twilio_helpers import BASE, CALLER, call_form, sms_form, twilio_post

ROOT = Path(__file__).resolve().parent.parent
#: The webhooks' bound on waiting for the database, short in tests.
WAIT = 0.3
SPOOLED = "求助编号稍后将以短信告知"


@pytest.fixture
def spool(app) -> Spool:
    app.config["WEBHOOK_DB_WAIT_SECONDS"] = WAIT
    return intake().spool


@pytest.fixture
def outage(app):
    """``with outage():`` the database cannot take the webhooks' writes."""

    @contextmanager
    def away():
        if db.engine.dialect.name == "sqlite":
            path = db.engine.url.database
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                holder.execute("ROLLBACK")
                holder.close()
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        else:
            import psycopg

            url = make_url(str(db.engine.url.render_as_string(hide_password=False)))
            name = url.database
            admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
            db.session.remove()
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                    " AND pid <> pg_backend_pid()",
                    (name,),
                )
                try:
                    yield
                finally:
                    admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            db.engine.dispose()

    return away


def twiml(response) -> ElementTree.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    return ElementTree.fromstring(response.get_data(as_text=True))  # noqa: S314  (our own answer)


def timed_post(client, path, form):
    started = time.monotonic()
    response = twilio_post(client, path, form)
    return response, time.monotonic() - started


def records(spool: Spool) -> list[dict]:
    return [json.loads((spool.pending / name).read_bytes()) for name in spool.pending_names()]


def sid(n: int) -> str:
    return f"SM{n:032x}"


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- answering while the database is away ---------------------------------------------------------


def test_a_text_is_answered_and_spooled_while_the_database_is_away(client, spool, outage):
    with outage():
        response, seconds = timed_post(client, "/twilio/sms", sms_form(sid=sid(1), body="家里失火了"))
    answer = twiml(response).find("Message").text
    assert SPOOLED in answer and "110、120或119" in answer
    assert seconds < WAIT + 1.5
    [record] = records(spool)
    assert record["version"] == FORMAT and record["endpoint"] == "sms"
    assert record["form"]["MessageSid"] == [sid(1)] and record["form"]["From"] == [CALLER]
    assert record["form"]["Body"] == ["家里失火了"] and record["args"] == {}
    received = datetime.fromisoformat(record["received_at"])
    assert received.tzinfo is not None and abs((now_utc() - received).total_seconds()) < 30
    assert count(Interaction) == 0 and count(Ticket) == 0


def test_a_stop_word_is_answered_as_usual_while_the_database_is_away(client, spool, outage):
    with outage():
        response = twilio_post(client, "/twilio/sms", sms_form(sid=sid(1), body="退订"))
    assert "您已退订" in twiml(response).find("Message").text
    assert len(records(spool)) == 1


def test_a_bad_signature_is_refused_and_never_spooled(client, spool, outage):
    with outage():
        assert client.post("/twilio/sms", data=sms_form()).status_code == 403
        assert twilio_post(client, "/twilio/sms", sms_form(), token="wrong").status_code == 403
        form = sms_form()
        del form["MessageSid"]
        assert twilio_post(client, "/twilio/sms", form).status_code == 400
    assert spool.pending_names() == [] and not spool.root.joinpath("pending").exists()


def test_the_record_and_its_folder_are_fsynced(client, spool, outage, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    with outage():
        monkeypatch.setattr(os, "fsync", spy)
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(1)))
        monkeypatch.undo()
    assert synced == ["file", "dir"]
    [name] = spool.pending_names()
    assert json.loads((spool.pending / name).read_bytes())["form"]["MessageSid"] == [sid(1)]
    assert [n for n in os.listdir(spool.pending) if n.startswith(".")] == []  # no temporary file left


def test_a_call_gets_its_greeting_and_rings_the_roster_snapshot_while_the_database_is_away(
    client, spool, outage, make_user, now
):
    operator = make_user("operator")
    line = DutyLine(user_id=operator.id, label="值班", phone="+8613900000001", position=1, on_duty=True, updated_at=now)
    db.session.add(line)
    db.session.commit()
    line_id = line.id
    replay(spool, now=now)  # the scheduler's run reads the roster into the snapshot
    fresh = Spool(spool.root)  # a worker started since: it has only the file
    assert [(r.id, r.phone) for r in fresh.roster()] == [(line_id, "+8613900000001")]
    call_sid = "CA" + "1" * 32
    with outage():
        greeting, seconds = timed_post(client, "/twilio/voice", call_form(sid=call_sid))
        menu = twilio_post(client, "/twilio/voice/menu", call_form(sid=call_sid, Digits="1"))
    assert seconds < WAIT + 1.5
    assert "救急难" in twiml(greeting).find("Gather/Say").text
    dial = twiml(menu).find("Dial")
    assert [leg.text for leg in dial] == ["+8613900000001"]
    assert dial[0].get("statusCallback") == f"{BASE}/twilio/voice/status?duty={line_id}"
    assert [r["endpoint"] for r in records(spool)] == ["voice", "voice_menu"]
    assert count(Interaction) == 0
    report = replay(spool, now=now)
    assert report["replayed"] == {"voice": 1, "voice_menu": 1} and report["stored"] == 1
    call = db.session.scalar(select(Interaction).where(Interaction.provider_sid == call_sid))
    assert call.menu_choice == "urgent" and call.missed_at is None
    assert count(Ticket) == 0


def test_with_no_roster_known_a_call_goes_to_voicemail_and_is_missed_once_after_replay(client, spool, outage, now):
    call_sid = "CA" + "2" * 32
    with outage():
        twilio_post(client, "/twilio/voice", call_form(sid=call_sid))
        menu = twiml(twilio_post(client, "/twilio/voice/menu", call_form(sid=call_sid, Digits="1")))
        ended = twilio_post(client, "/twilio/voice/status", call_form(sid=call_sid, CallStatus="completed"))
        recorded = twilio_post(
            client,
            "/twilio/recording",
            call_form(sid=call_sid, RecordingSid="RE" + "1" * 32, RecordingUrl="https://api.twilio.com/r/RE1"),
        )
    assert menu.find("Record") is not None and "30分钟内给您回电" in menu.find("Say").text
    assert ended.status_code == 200 and recorded.status_code == 200
    assert [r["answer"] for r in records(spool)] == [None, "voicemail", None, None]
    saved = {name: (spool.pending / name).read_bytes() for name in spool.pending_names()}
    report = replay(spool, now=now)
    assert report["replayed"] == {"recording": 1, "voice": 1, "voice_menu": 1, "voice_status": 1}
    assert report["quarantined"] == 0 and report["left"] == 0
    call = db.session.scalar(select(Interaction).where(Interaction.provider_sid == call_sid))
    ticket = db.session.get(Ticket, call.ticket_id)
    assert (ticket.channel, ticket.priority) == ("voice", "P1")
    assert call.status == "completed" and call.recording_sid == "RE" + "1" * 32
    # Its arrival time, not the replay's, is when the call was missed.
    assert call.missed_at > now and abs((now_utc() - call.missed_at).total_seconds()) < 60
    kinds = [e.kind for e in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))]
    assert kinds.count("missed_call") == 1 and kinds.count("voicemail") == 1
    # Every step replayed again (copies of the records): nothing is written twice.
    for name, data in saved.items():
        (spool.pending / name).write_bytes(data)
    again = replay(spool, now=now)
    assert again["duplicates"] == 3 and again["applied"] == 1 and again["stored"] == 0
    assert count(Interaction) == 1 and count(Ticket) == 1
    assert [e.kind for e in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))] == kinds


# --- replay ---------------------------------------------------------------------------------------


def test_a_spooled_first_message_is_stored_once_and_its_number_follows_by_sms(client, spool, outage):
    with outage():
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(1), body="请问临时救助怎么申请"))
    [name] = spool.pending_names()
    saved = (spool.pending / name).read_bytes()
    assert count(OutboundMessage) == 0
    replayed_at = now_utc()  # after the arrival, as a replay always is
    report = replay(spool, now=replayed_at)
    assert report["replayed"] == {"sms": 1} and report["stored"] == 1 and report["duplicates"] == 0
    ticket = db.session.scalar(select(Ticket))
    message = db.session.scalar(select(Interaction).where(Interaction.provider_sid == sid(1)))
    assert message.ticket_id == ticket.id
    [follow] = db.session.scalars(select(OutboundMessage)).all()
    assert follow.to_number == CALLER and ticket.number in follow.body and follow.ticket_id == ticket.id
    assert follow.status == "queued"
    # The same request replayed again (a second copy of the record): found by its SID, nothing written twice.
    (spool.pending / name).write_bytes(saved)
    again = replay(spool, now=replayed_at + timedelta(seconds=5))
    assert again["stored"] == 0 and again["duplicates"] == 1
    assert count(Interaction, Interaction.provider_sid == sid(1)) == 1
    assert count(Ticket) == 1 and count(OutboundMessage) == 1
    assert replay(spool, now=replayed_at + timedelta(seconds=10))["replayed"] == {}


def test_a_text_stored_before_the_failure_is_a_duplicate_and_still_gets_its_number_once(client, spool, now):
    assert twilio_post(client, "/twilio/sms", sms_form(sid=sid(7))).status_code == 200
    form = {k: [v] for k, v in sms_form(sid=sid(7)).items()}
    spool.write("sms", key=CALLER, form=form, args={}, received_at=now_utc() - timedelta(seconds=5))
    report = replay(spool, now=now_utc())
    assert report["duplicates"] == 1 and report["stored"] == 0
    assert count(Interaction, Interaction.direction == "inbound") == 1 and count(OutboundMessage) == 1


def test_replay_keeps_arrival_order_and_passes_the_arrival_time(client, spool, outage, now):
    with outage():
        for n, body in enumerate(["第一条：家里没有吃的了", "第二条：孩子在发烧", "第三条：请尽快联系"], start=1):
            twilio_post(client, "/twilio/sms", sms_form(sid=sid(n), body=body))
    # The database is back, but an earlier text of this sender still waits: this one queues behind it.
    late = twiml(twilio_post(client, "/twilio/sms", sms_form(sid=sid(4), body="第四条")))
    assert SPOOLED in late.find("Message").text
    received = [datetime.fromisoformat(r["received_at"]) for r in records(spool)]
    assert received == sorted(received) and len(received) == 4
    report = replay(spool, now=now)
    assert report["stored"] == 4
    [ticket] = db.session.scalars(select(Ticket)).all()
    assert ticket.summary.startswith("第一条")
    texts = [e.payload["text"] for e in timeline(ticket) if e.kind == "sms_in"]
    assert texts == ["第二条：孩子在发烧", "第三条：请尽快联系", "第四条"]
    stored = db.session.scalars(select(Interaction).where(Interaction.direction == "inbound").order_by(Interaction.id))
    assert [(m.provider_sid, m.started_at) for m in stored] == [(sid(n), received[n - 1]) for n in range(1, 5)]
    # After the replay nothing waits: the next text is stored at once.
    twilio_post(client, "/twilio/sms", sms_form(sid=sid(5), body="第五条"))
    assert spool.pending_names() == [] and count(Interaction, Interaction.provider_sid == sid(5)) == 1


def test_a_replay_while_the_database_is_still_away_leaves_the_records(client, spool, outage, now):
    with outage():
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(1)))
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(2), sender="+8613900000002"))
        report = replay(spool, now=now, wait=WAIT)
    assert report["stopped"].startswith("database unavailable")
    assert report["stored"] == 0 and report["quarantined"] == 0 and report["left"] == 2
    assert len(spool.pending_names()) == 2 and os.listdir(spool.claimed) == []
    assert replay(spool, now=now)["stored"] == 2


def test_records_that_cannot_be_replayed_are_quarantined_with_the_reason_and_shown(
    client, spool, now, logged_in, make_user
):
    spool.pending.mkdir(parents=True)
    good = {"version": FORMAT, "received_at": now.isoformat(), "args": {}, "answer": None}
    bad = {
        "00000000000000001-a-corrupt.json": b'{"version": 1, "endpoint": "sms", "form": {',
        "00000000000000002-a-binary.json": b'{"version": 1, "endpoint": "sms\xff\xfe"}',
        "00000000000000003-a-unknown.json": json.dumps(good | {"endpoint": "fax", "form": {}}).encode(),
        "00000000000000004-a-noform.json": json.dumps(good | {"endpoint": "sms", "form": {"From": [CALLER]}}).encode(),
        "00000000000000005-a-version.json": json.dumps(good | {"version": 99, "endpoint": "sms", "form": {}}).encode(),
    }
    for name, data in bad.items():
        (spool.pending / name).write_bytes(data)
    report = replay(spool, now=now)
    assert report["quarantined"] == 5 and report["stored"] == 0 and spool.pending_names() == []
    reasons = {n: json.loads((spool.quarantine_dir / f"{n}.reason").read_text())["reason"] for n in bad}
    assert reasons["00000000000000001-a-corrupt.json"].startswith("corrupt JSON")
    assert reasons["00000000000000002-a-binary.json"] == "invalid UTF-8 at byte 31"
    assert reasons["00000000000000003-a-unknown.json"] == "unknown endpoint 'fax'"
    assert reasons["00000000000000004-a-noform.json"] == "schema: the form has no MessageSid"
    assert reasons["00000000000000005-a-version.json"].startswith("schema: format version 99")
    assert all((spool.quarantine_dir / n).read_bytes() == data for n, data in bad.items())  # kept as they were
    assert spool.stats(now)["quarantined"] == 5
    logged_in(make_user("admin"))
    page = client.get("/admin/spool").get_data(as_text=True)
    assert "invalid UTF-8 at byte 31" in page and "unknown endpoint" in page and "has no MessageSid" in page


def test_two_replayers_never_take_the_same_record_and_a_dead_ones_claim_comes_back(spool, now):
    spool.write("sms", key=CALLER, form={}, args={}, received_at=now)
    [name] = spool.pending_names()
    assert spool.claim(name) is not None
    assert spool.claim(name) is None
    with spool.replaying() as first, spool.replaying() as second:
        assert (first, second) == (True, False)
    # A claim of a process that is gone (pid 2**22+1 is above Linux's default pid_max) goes back to pending.
    os.rename(spool.claimed / f"{os.getpid()}-{name}", spool.claimed / f"{2**22 + 1}-{name}")
    assert spool.recover() == 1 and spool.pending_names() == [name]


# --- who sees the spool ---------------------------------------------------------------------------


def test_healthz_shows_the_spool_also_while_the_database_is_away(client, spool, now):
    assert client.get("/healthz").get_json()["spool"] == {"count": 0, "oldest_age_seconds": None, "quarantined": 0}
    spool.write("sms", key=CALLER, form={}, args={}, received_at=now_utc() - timedelta(seconds=90))
    spool.write("sms", key=CALLER, form={}, args={}, received_at=now_utc() - timedelta(seconds=10))
    body = client.get("/healthz").get_json()
    assert body["spool"]["count"] == 2 and 89 <= body["spool"]["oldest_age_seconds"] <= 120
    assert body["spool"]["quarantined"] == 0


def test_managers_are_warned_when_the_spool_has_waited_more_than_a_minute(client, spool, now, manager, operator):
    spool.write("sms", key=CALLER, form={}, args={}, received_at=now)
    assert spool_warning(now + timedelta(seconds=60)) is None
    assert "1 个来电或短信尚未入库（最早的已等待 1 分钟）" in spool_warning(now + timedelta(seconds=61))
    spool.write("voice", key="CA1", form={}, args={}, received_at=now + timedelta(seconds=30))
    assert "2 个来电或短信尚未入库（最早的已等待 3 分钟）" in spool_warning(now + timedelta(minutes=3))
    shown = "数据库不可用期间收到的 2 个来电或短信尚未入库"
    manager_client = client.application.test_client()
    login(manager_client, manager.username)
    assert shown in manager_client.get("/supervision").get_data(as_text=True)
    login(client, operator.username)
    assert "尚未入库" not in client.get("/desk").get_data(as_text=True)
    for name in spool.pending_names():
        spool.done(spool.pending / name)
    assert shown not in manager_client.get("/supervision").get_data(as_text=True)


def test_the_spool_page_is_for_admins_with_masked_numbers_and_a_confirmed_replay(
    client, spool, outage, logged_in, make_user, operator
):
    with outage():
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(1)))
    admin = make_user("admin")
    operator_client = client.application.test_client()
    login(operator_client, operator.username)
    assert operator_client.get("/admin/spool").status_code == 403
    logged_in(admin)
    page = client.get("/admin/spool").get_data(as_text=True)
    assert "138****1234" in page and CALLER not in page and "13812341234" not in page
    assert sid(1) in page and "data-confirm" in page
    assert client.post("/admin/spool/replay", data={}).status_code == 400  # no CSRF token
    assert count(Interaction) == 0
    response = post_form(client, "/admin/spool/replay", {}, page="/admin/spool")
    assert response.status_code == 302
    assert count(Interaction, Interaction.provider_sid == sid(1)) == 1 and spool.pending_names() == []
    assert audit_kinds()[-1] == "spool_replayed"
    after = client.get("/admin/spool").get_data(as_text=True)
    assert "补录完成：新入库 1 条，此前已入库 0 条" in after and "没有等待中的记录" in after


def test_an_admin_replays_a_quarantined_record_again(client, spool, now, logged_in, make_user):
    form = {k: [v] for k, v in sms_form(sid=sid(3)).items()}
    spool.write("sms", key=CALLER, form=form, args={}, received_at=now)
    [name] = spool.pending_names()
    spool.quarantine(spool.claim(name), "OperationalError: disk I/O error", now=now)
    logged_in(make_user("admin"))
    assert post_form(client, "/admin/spool/retry", {"name": "../../etc/passwd"}, page="/admin/spool").status_code == 302
    assert spool.stats(now)["quarantined"] == 1
    assert post_form(client, "/admin/spool/retry", {"name": name}, page="/admin/spool").status_code == 302
    assert spool.stats(now)["quarantined"] == 0 and count(Interaction, Interaction.provider_sid == sid(3)) == 1


def test_the_replay_command_prints_what_it_replayed(client, spool, outage, runner):
    with outage():
        twilio_post(client, "/twilio/sms", sms_form(sid=sid(1)))
        twilio_post(client, "/twilio/voice", call_form())
    result = runner.invoke(args=["hotline", "spool", "replay"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["replayed"] == {"sms": 1, "voice": 1}
    assert (report["stored"], report["duplicates"], report["quarantined"], report["left"]) == (2, 0, 0, 0)


def test_while_the_database_is_away_one_request_at_a_time_tries_it_and_not_more_often_than_the_bound(spool):
    with spool.attempt(every=WAIT) as state:
        assert state == "up"  # everyone tries
    spool.mark_down()
    with spool.attempt(every=WAIT) as state:
        assert state == "wait"  # it failed a moment ago: spool at once
    past = time.time() - 2 * WAIT
    os.utime(spool.down_path, (past, past))
    with spool.attempt(every=WAIT) as first, spool.attempt(every=WAIT) as second:
        assert (first, second) == ("probe", "wait")
    with spool.attempt(every=WAIT) as again:
        assert again == "wait"  # the try just made counts from its start
    spool.mark_up()
    with spool.attempt(every=WAIT) as state:
        assert state == "up"


def test_the_scheduler_replays_the_spool_every_few_seconds(app, spool):
    from hotline.jobs.scheduler import SPOOL_SECONDS, build_scheduler, run_spool

    job = build_scheduler(app).get_job("spool")
    assert job.trigger.interval == timedelta(seconds=SPOOL_SECONDS) and SPOOL_SECONDS <= 10
    form = {k: [v] for k, v in sms_form(sid=sid(9)).items()}
    spool.write("sms", key=CALLER, form=form, args={}, received_at=now_utc() - timedelta(seconds=3))
    run_spool(app)
    assert spool.pending_names() == [] and count(Interaction, Interaction.provider_sid == sid(9)) == 1
    assert count(OutboundMessage) == 1


def test_a_web_node_without_a_scheduler_replays_its_own_spool(app, spool):
    """Each gunicorn worker starts the replayer thread: the node's spool is stored with no scheduler anywhere."""
    from hotline.intake import replay as replay_module

    form = {k: [v] for k, v in sms_form(sid=sid(8)).items()}
    spool.write("sms", key=CALLER, form=form, args={}, received_at=now_utc() - timedelta(seconds=3))
    app.config["WEB_SPOOL_REPLAY_SECONDS"] = 0.05
    stop = threading.Event()
    thread = replay_module.start_web_replayer(app, stop)
    try:
        for _ in range(200):  # at most 10 s
            if not spool.waiting_names():
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert spool.waiting_names() == [] and count(Interaction, Interaction.provider_sid == sid(8)) == 1
    assert count(OutboundMessage) == 1  # the number follows by SMS, as after the scheduler's replay


def test_gunicorn_starts_the_spool_replayer_in_each_worker(app, monkeypatch):
    from hotline.intake import replay as replay_module

    started = []
    monkeypatch.setattr(replay_module, "start_web_replayer", started.append)
    hooks = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    hooks["post_worker_init"](SimpleNamespace(wsgi=app))
    assert started == [app]


def test_with_nothing_waiting_the_web_replayer_does_not_touch_the_database(app, spool, monkeypatch):
    from hotline.intake import replay as replay_module

    monkeypatch.setattr(replay_module, "run_spool_replay", lambda app: pytest.fail("no replay with nothing waiting"))
    assert replay_module.replay_if_waiting(app) is None


def test_a_full_disk_still_gets_the_caller_an_answer_and_says_so_loudly(client, spool, outage, monkeypatch, caplog):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "write", full)
    with outage():
        response = twilio_post(client, "/twilio/sms", sms_form(sid=sid(1)))
    assert SPOOLED in twiml(response).find("Message").text
    assert any(r.levelname == "CRITICAL" and "LOST" in r.getMessage() for r in caplog.records)


def test_the_write_turn_gives_up_at_the_deadline_when_another_process_holds_it(tmp_path):
    from hotline.intake.writelock import WriteTurn, WriteTurnTimeout, bounded

    path = str(tmp_path / "db.sqlite3")
    fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file description: excludes the turn as another process would
    turn = WriteTurn(path)
    started = time.monotonic()
    with pytest.raises(WriteTurnTimeout), bounded(0.2), turn():
        pass
    assert 0.2 <= time.monotonic() - started < 3.0  # gave up at the deadline (with room for a busy machine)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    with bounded(0.2), turn():
        pass  # free again: taken at once
