"""Alert import benchmark (not a test): 10,000 monitoring alerts, read, previewed and imported. Prints timings.

    .venv/bin/python bench/import_alerts.py              # SQLite scratch file
    .venv/bin/python bench/import_alerts.py --postgres   # scratch database on 127.0.0.1:5432 (created, dropped)

Each round runs on a fresh database with one county (3 townships, 2 villages each) and an admin, and times:
  read     reading the 10,000-row XLSX export (openpyxl) into rows;
  preview  import_alerts(commit=False): read, check every row, predict the outcomes (what the command without
           --commit and the page's upload do);
  command  import_alerts(commit=True) committing every batch, as `flask hotline import-alerts FILE --commit`;
  command_cpu  this process's CPU time during the command (SQLite's work included; PostgreSQL's server not):
           less sensitive than the wall time to other work on the machine;
  page     the page's path on another fresh database: upload (preview and keep the rows), then one step per
           batch until done, each step its own transaction.
The figure is the median of the rounds (3 by default).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import func, select

from hotline import create_app
from hotline.discovery import alert_jobs
from hotline.discovery.alert_file import read_alert_file
from hotline.discovery.alert_policy import alert_policy
from hotline.discovery.alerts import import_alerts
from hotline.extensions import db
from models.alert_import import AlertImport
from models.department import Department
from models.ticket import Ticket
from models.user import User
from tests.alert_files import big_export

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
PLACES = [
    ("城关镇", "东关社区"),
    ("城关镇", "西街社区"),
    ("河口乡", "水口村"),
    ("河口乡", "下河村"),
    ("青山镇", "青山村"),
    ("青山镇", "石门村"),
]
ROWS = 10_000


def county() -> User:
    townships = {}
    for i, (township, village) in enumerate(PLACES):
        if township not in townships:
            townships[township] = Department(
                code=f"t{len(townships)}", name=township, kind="township", level="township", active=True
            )
            db.session.add(townships[township])
        db.session.add(
            Department(
                code=f"v{i}", name=village, kind="village", level="village", parent=townships[township], active=True
            )
        )
    admin = User(
        username="admin",
        display_name="admin",
        role="admin",
        active=True,
        failed_logins=0,
        password_hash="!",  # noqa: S106 (no password: nobody logs in as the benchmark's admin)
        session_token=uuid.uuid4().hex,
        created_at=NOW,
    )
    db.session.add(admin)
    db.session.commit()
    return admin


@contextmanager
def scratch(postgres: bool):
    if not postgres:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    import psycopg

    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(run) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def command_round(url: str, data: bytes) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade(revision="heads")
        admin = county()
        out = {"read": timed(lambda: read_alert_file(data, alert_policy()))}
        preview = {}
        out["preview"] = timed(lambda: preview.update(r=import_alerts(data, actor=admin, now=NOW, commit=False)))
        done = {}

        def commit():
            done["r"] = import_alerts(
                data, actor=admin, now=NOW, commit=True, after_batch=lambda _n: db.session.commit()
            )
            db.session.commit()

        cpu = time.process_time()
        out["command"] = timed(commit)
        out["command_cpu"] = time.process_time() - cpu
        assert preview["r"].count("created") == done["r"].count("created") == ROWS, done["r"].summary()["errors"][:3]
        assert db.session.scalar(select(func.count(Ticket.id))) == ROWS
        db.session.remove()
        db.engine.dispose()
    return out


def page_round(url: str, data: bytes) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade(revision="heads")
        admin = county()
        steps = []

        def upload_and_import():
            job = alert_jobs.preview_upload(data, "bench.xlsx", actor=admin, now=NOW)
            alert_jobs.start_import(job, actor=admin, now=NOW)
            db.session.commit()
            job_id, admin_id, status = job.id, admin.id, job.status
            while status != "done":
                db.session.remove()  # each step is a request of its own: a new session
                t0 = time.perf_counter()
                job, user = db.session.get(AlertImport, job_id), db.session.get(User, admin_id)
                alert_jobs.import_step(job, actor=user, now=NOW)
                db.session.commit()
                steps.append(time.perf_counter() - t0)
                status = job.status

        seconds = timed(upload_and_import)
        assert db.session.scalar(select(func.count(Ticket.id))) == ROWS
        db.session.remove()
        db.engine.dispose()
    return {"page": seconds, "step_max": max(steps), "steps": len(steps)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data = big_export(ROWS, PLACES)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{ROWS:,} alerts, XLSX of {len(data) / 1024:.0f} KiB; {'PostgreSQL' if args.postgres else 'SQLite'}")
    rounds = []
    for i in range(args.rounds):
        with scratch(args.postgres) as url:
            figures = command_round(url, data)
        with scratch(args.postgres) as url:
            figures |= page_round(url, data)
        rounds.append(figures)
        shown = ", ".join(f"{k} {v:.2f} s" for k, v in figures.items() if k != "steps")
        print(f"round {i + 1}: {shown} ({figures['steps']} steps)", flush=True)
    keys = ("read", "preview", "command", "command_cpu", "page", "step_max")
    median = {k: statistics.median(r[k] for r in rounds) for k in keys}
    print("median: " + ", ".join(f"{k} {v:.2f} s" for k, v in median.items()))
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
