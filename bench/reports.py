"""Reports at a million tickets: load, then time the unit percentile table and the operator's queue page.

    .venv/bin/python bench/reports.py                     # 1,000,000 tickets, SQLite then PostgreSQL
    .venv/bin/python bench/reports.py --tickets 200000 --skip-postgres

SQLite: a scratch file (``--sqlite``), created afresh unless ``--reuse`` finds it
loaded. PostgreSQL: a scratch database created on ``--postgres`` (the server at
127.0.0.1:5432, user postgres) and dropped at the end, unless ``--keep-postgres``
(its name is printed); ``--postgres-db NAME`` times such a kept database again. Both are loaded with
``flask hotline demo --tickets N``'s bulk path (two years of history).

Printed per database:

- the load time;
- the percentile table (p50/p90/p95, mean, count and compliance of the five
  response times, by unit) for 30-day windows ending ``--days-ago`` days before
  today (by default the last 30 days, and those ending six and twenty months
  ago): ``--repeat`` runs each, min and median;
- the queue page (``GET /desk``, "My open tickets") of the operator with the
  most open tickets, through the Flask test client, logged in: p50 and p95 of
  ``--requests`` requests.

Targets (issues 7 and 16): percentile table, on any 30-day window, under 300 ms on PostgreSQL and 1 s on
SQLite; queue page p95 under 50 ms. The machine may be shared: the load average
and this process's CPU time are printed beside the wall-clock times (on SQLite,
which runs in this process, the CPU time is what the query costs on an idle machine);
on PostgreSQL, the CPU time of the server processes serving the bench's database
too (read from /proc: the server runs on this machine).
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hotline import create_app  # noqa: E402
from hotline.demo import DEMO_PASSWORD, load_bulk_demo  # noqa: E402
from hotline.extensions import db  # noqa: E402
from hotline.reports import service  # noqa: E402
from hotline.timeutil import to_local, utcnow  # noqa: E402
from models.ticket import OPEN_STATUSES, Ticket  # noqa: E402
from models.user import User  # noqa: E402

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


class ServerCPU:
    """CPU time of the PostgreSQL server processes serving one database, read from /proc (the server
    runs on this machine): the backends connected to it before and after a run, each one's
    utime + stime. A parallel worker that exits within the run is not seen (the plans timed here
    use none). Nothing on SQLite, or when /proc shows no such processes."""

    def __init__(self, url: str):
        self.admin = None
        if make_url(url).get_backend_name() == "postgresql":
            import psycopg

            parts = make_url(url)
            self.name = parts.database
            admin = parts.set(drivername="postgresql", database="postgres")
            self.admin = psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True)

    def _ticks(self) -> dict[int, int]:
        pids = self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s"
            " AND backend_type IN ('client backend', 'parallel worker')",  # not autovacuum's
            (self.name,),
        ).fetchall()
        found = {}
        for (pid,) in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return found

    def start(self) -> None:
        self.before = self._ticks() if self.admin else {}

    def seconds(self) -> float | None:
        """CPU seconds the server spent since :meth:`start`; None when not measured."""
        if not self.admin:
            return None
        after = self._ticks()
        if not after:
            return None
        return sum(t - self.before.get(pid, 0) for pid, t in after.items()) / os.sysconf("SC_CLK_TCK")


def run(url: str, args) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    server = ServerCPU(url)
    with app.app_context():
        upgrade(revision="heads")
        loaded = db.session.scalar(select(func.count(Ticket.id)))
        if loaded:
            print(f"  reusing {loaded:,} tickets already loaded")
        else:
            started = time.perf_counter()
            load_bulk_demo(now=utcnow(), tickets=args.tickets, echo=lambda line: print(line, flush=True))
            print(f"  load: {time.perf_counter() - started:,.0f} s for {args.tickets:,} tickets", flush=True)
        db.session.remove()

        now = utcnow()
        today = to_local(now).date()
        for days_ago in args.days_ago:
            last = today - timedelta(days=days_ago)
            period = service.Period(last - timedelta(days=29), last)
            timings, cpu, server_cpu = [], [], []
            for _ in range(args.repeat):
                server.start()
                started, cpu_started = time.perf_counter(), time.process_time()
                tables = service.response_times(period, service.Scope(), now, "unit")
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                server_cpu.append(server.seconds())
                db.session.remove()
            counted = {t.measure.key: t.total.n for t in tables}
            print(f"  percentile table by unit, {period.first} .. {period.last} (ends {days_ago} days ago): {counted}")
            print(
                f"  percentile table: min {min(timings) * 1000:,.0f} ms,"
                f" median {statistics.median(timings) * 1000:,.0f} ms ({args.repeat} runs);"
                f" this process's CPU: median {statistics.median(cpu) * 1000:,.0f} ms;"
                + (
                    f" the server's CPU: median {statistics.median(server_cpu) * 1000:,.0f} ms;"
                    if None not in server_cpu
                    else ""
                )
                + f" load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )

        if args.skip_queue:
            db.engine.dispose()
            return
        operator, open_count = db.session.execute(
            select(User.username, func.count(Ticket.id))
            .join(Ticket, Ticket.first_contact_owner_id == User.id)
            .where(User.role == "operator", Ticket.status.in_(OPEN_STATUSES))
            .group_by(User.username)
            .order_by(func.count(Ticket.id).desc())
            .limit(1)
        ).one()
        db.session.remove()
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        match = CSRF.search(page)
        token = match.group(1) or match.group(2)
        response = client.post("/login", data={"username": operator, "password": DEMO_PASSWORD, "csrf_token": token})
        assert response.status_code == 302, response.status_code
        client.get("/desk")  # warm up: templates compiled, caches filled
        timings, cpu = [], []
        server.start()  # the server's CPU over all the requests (a request's is below /proc's resolution)
        for _ in range(args.requests):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get("/desk")
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            assert response.status_code == 200
        server_cpu = server.seconds()
        print(
            f"  queue page /desk ({operator}, {open_count} open tickets): "
            f"p50 {percentile(timings, 0.5) * 1000:.1f} ms, p95 {percentile(timings, 0.95) * 1000:.1f} ms"
            f" ({args.requests} requests); CPU p50 {percentile(cpu, 0.5) * 1000:.1f} ms,"
            f" p95 {percentile(cpu, 0.95) * 1000:.1f} ms"
            + (f"; the server's CPU: {server_cpu / args.requests * 1000:.1f} ms a request" if server_cpu else ""),
            flush=True,
        )
        print(f"  load average now: {os.getloadavg()[0]:.1f}", flush=True)
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    scratch = Path(tempfile.gettempdir()) / "hotline-bench-reports.sqlite3"
    parser.add_argument("--sqlite", default=str(scratch), help="scratch SQLite file")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded SQLite file instead of loading it again")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--keep-postgres", action="store_true", help="keep the scratch database (its name is printed)")
    parser.add_argument("--postgres-db", help="time an already loaded database of that name instead (kept)")
    parser.add_argument(
        "--days-ago",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[0, 182, 608],
        help="the 30-day windows timed, by how many days before today each ends (default 0,182,608:"
        " the last 30 days, 30 days ending six months ago and twenty months ago)",
    )
    parser.add_argument("--skip-queue", action="store_true", help="time the percentile tables only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    if not args.skip_sqlite:
        path = Path(args.sqlite)
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"== SQLite {path}", flush=True)
        run(f"sqlite:///{path}", args)

    if not args.skip_postgres:
        import psycopg

        base = make_url(args.postgres)
        name = args.postgres_db or f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        if not args.postgres_db:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        print(f"== PostgreSQL {name}", flush=True)
        try:
            run(base.set(database=name).render_as_string(hide_password=False), args)
        finally:
            if args.keep_postgres or args.postgres_db:
                print(f"  kept {name}")
            else:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                print(f"  dropped {name}")


if __name__ == "__main__":
    main()
