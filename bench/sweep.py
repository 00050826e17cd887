"""Escalation sweep benchmark (not a test): prints timings.

    .venv/bin/python bench/sweep.py            # SQLite scratch file
    .venv/bin/python bench/sweep.py --postgres # scratch database on 127.0.0.1:5432 (created and dropped)

Scenarios, each on a fresh database:
  1. 100,000 open tickets of which 1,000 are due: one sweep.
  2. 1,000,000 open tickets, none due: one sweep (the index range scan finds nothing).
  3. 10,000 due escalations (one ladder step each): one sweep.
"""

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from hotline import create_app
from hotline.escalation.sweep import sweep
from hotline.extensions import db
from models.escalation import EscalationStep
from models.ticket import Ticket

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # a Tuesday noon in Shanghai
CHUNK = 20_000


def tickets(count: int, *, due: int, offset: int = 0):
    """P1 tickets whose 30-minute dispatch clock started 25 minutes ago (due: warn step) or just now."""
    for start in range(0, count, CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, count)):
            opened = NOW - timedelta(minutes=25) if i < due else NOW
            rows.append(
                {
                    "number": f"B{offset + i:011d}",
                    "channel": "voice",
                    "category": "other",
                    "priority": "P1",
                    "summary": "bench",
                    "status": "open",
                    "confidential": False,
                    "sensitive": False,
                    "mandatory_report": False,
                    "created_at": opened,
                    "updated_at": opened,
                    "first_contact_at": opened,
                    "advance_relief_at": opened,
                    "dispatch_started_at": opened,
                    "dispatch_due_at": opened + timedelta(minutes=30),
                    "next_deadline_at": opened + timedelta(minutes=30),
                    "next_escalation_at": opened + timedelta(minutes=22, seconds=30),
                    "version": 1,
                }
            )
        yield rows


def load(count: int, due: int) -> float:
    t0 = time.perf_counter()
    for rows in tickets(count, due=due):
        db.session.execute(insert(Ticket), rows)
        db.session.commit()
    return time.perf_counter() - t0


def timed_sweep(repeat: int = 1) -> tuple[list[float], dict]:
    times, report = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = sweep(now=NOW)
        times.append(time.perf_counter() - t0)
    return times, report


def scenario(url: str, name: str, count: int, due: int, repeat: int = 1) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade(revision="heads")
        seconds = load(count, due)
        times, report = timed_sweep(repeat)
        steps = db.session.scalar(select(func.count(EscalationStep.id)))
        ms = [t * 1000 for t in times]
        shown = f"{ms[0]:.1f} ms" if repeat == 1 else f"median {statistics.median(ms):.1f} ms of {repeat}"
        rate = f", {report['steps_written'] / times[0]:.0f} steps/s" if report["steps_written"] else ""
        print(
            f"{name}: {count:,} open, {due:,} due -> sweep {shown}{rate}; "
            f"steps written {report['steps_written']:,} (table {steps:,}); load {seconds:.1f} s",
            flush=True,
        )
        db.session.remove()
        db.engine.dispose()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--only", type=int, choices=(1, 2, 3))
    args = ap.parse_args()
    cases = [
        (1, "1 sweep with 1,000 due", 100_000, 1_000, 1),
        (2, "2 sweep with nothing due", 1_000_000, 0, 5),
        (3, "3 10,000 due escalations", 10_000, 10_000, 1),
    ]
    for number, name, count, due, repeat in cases:
        if args.only and number != args.only:
            continue
        if args.postgres:
            import psycopg

            dbname = f"hotline_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            try:
                scenario(f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}", name, count, due, repeat)
            finally:
                with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        else:
            with tempfile.TemporaryDirectory() as tmp:
                scenario(f"sqlite:///{tmp}/bench.sqlite3", name, count, due, repeat)


if __name__ == "__main__":
    main()
