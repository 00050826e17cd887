"""The cluster bench's Python half (``bench/cluster.sh`` runs it): two web nodes, two schedulers, kill -9.

    cluster.py run --work DIR --database-url URL [-n 2000] [--seconds 40] [--kill-at 12] [--restart-at 17]
                   [--cut-at 24] [--restore-at 28]
        On the migrated database URL: seeds two duty lines, tickets whose
        escalation steps fall due during the run, and outbox messages due during
        it; starts a fake Twilio, two gunicorn instances (deploy/gunicorn.conf.py,
        2 workers each, each with its own spool folder), nginx balancing them,
        and two schedulers (both on node A: node B's spool has no scheduler);
        sends N distinct signed SMS through nginx over SECONDS; at KILL-AT kills
        gunicorn A (its process group: master and workers) and scheduler 1 with
        SIGKILL, restarts both at RESTART-AT (Twilio answers in 1.5 s from three
        seconds before the kill to 3.5 s after, and scheduler 1 is killed the
        moment it waits for Twilio's answer to a message Twilio took, within 3 s); from CUT-AT to RESTORE-AT node B
        loses the database (its connections go through a proxy on loopback that
        drops them), so it spools and must replay by itself. Then waits (bounded)
        until both spools are empty, the outbox is settled and a sweep ran past
        the last due step, checks, prints the figures as JSON lines, and exits 1
        if an invariant fails.
    cluster.py fake-twilio --port P --log FILE --slow-file FILE [--delay 0.01] [--slow-delay 1.5]
        Twilio's REST API for messages on 127.0.0.1: each POST to
        /2010-04-01/Accounts/<sid>/Messages.json is logged (one JSON line, flushed) the
        moment it arrives, then answered after DELAY (SLOW-DELAY while SLOW-FILE exists)
        like Twilio (201, a new sid); a GET of Messages.json lists what was received,
        newest first (To and From filters, pages of PageSize).
    cluster.py db-proxy --port P --target-port 5432 --cut-file FILE
        A TCP proxy to PostgreSQL on loopback; while FILE exists it drops every
        connection and refuses new ones (the database is away for that node).

Every loop is bounded in count and time, and only 127.0.0.1 is ever called.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

# The texts and the per-request bound of the single-node outage bench (bench/outage.py, beside this file).
from outage import BODIES, REQUEST_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
ACCOUNT = "AC" + "c1" * 16
TOKEN = "cluster-token"  # noqa: S105 (the bench's own webhooks, on loopback)
HOTLINE_NUMBER = "+8657100012345"
DUTY_PHONES = ("+8613900000001",)
#: Attempts of one webhook at most, as Twilio's primary and fallback tries (connection failure, 502/503/504).
ATTEMPTS = 4
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$")


# --- fake Twilio ------------------------------------------------------------------------------


def fake_twilio(args) -> None:
    received: list[dict] = []
    lock = threading.Lock()
    slow = Path(args.slow_file)
    inflight: set[int] = set()  # client ports of the POSTs taken and not answered yet
    log = open(args.log, "a", encoding="utf-8")  # noqa: SIM115 (open for the server's life)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if not MESSAGES_PATH.match(self.path):
                self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                return
            message = {
                "sid": "SM" + secrets.token_hex(16),
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "status": "queued",
                "account_sid": MESSAGES_PATH.match(self.path).group(1),
                "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                "received_at": time.time(),
            }
            with lock:  # taken: logged before the answer, as Twilio has it before the sender hears so
                received.append(message)
                log.write(json.dumps(message, ensure_ascii=False) + "\n")
                log.flush()
                inflight.add(self.client_address[1])
            time.sleep(args.slow_delay if slow.exists() else args.delay)
            with lock:
                inflight.discard(self.client_address[1])
            self._answer(201, message)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/inflight":
                with lock:
                    self._answer(200, {"ports": sorted(inflight)})
                return
            if not MESSAGES_PATH.match(url.path):
                self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                return
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
            with lock:
                found = [
                    m
                    for m in reversed(received)
                    if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])
                ]
            more = len(found) > (page + 1) * size
            following = url.path + "?" + urlencode(query | {"Page": page + 1, "PageSize": size}) if more else None
            self._answer(
                200,
                {
                    "messages": found[page * size : (page + 1) * size],
                    "next_page_uri": following,
                    "page": page,
                    "page_size": size,
                    "uri": self.path,
                },
            )

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    try:
        server.serve_forever()
    finally:
        log.close()


# --- database proxy ---------------------------------------------------------------------------


def db_proxy(args) -> None:
    cut = Path(args.cut_file)
    listener = socket.create_server(("127.0.0.1", args.port), backlog=128)
    pairs: list[tuple[socket.socket, socket.socket]] = []
    lock = threading.Lock()

    def pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cutter() -> None:
        while True:
            time.sleep(0.05)
            if cut.exists():
                with lock:
                    for a, b in pairs:
                        for s in (a, b):
                            with contextlib.suppress(OSError):
                                s.shutdown(socket.SHUT_RDWR)
                    pairs.clear()

    threading.Thread(target=cutter, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    while True:
        client, _ = listener.accept()
        if cut.exists():
            client.close()
            continue
        try:
            upstream = socket.create_connection(("127.0.0.1", args.target_port), timeout=5)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        with lock:
            pairs.append((client, upstream))
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


# --- the run ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Every process of the run, each leading its own process group (so kill -9 takes its children too)."""

    def __init__(self, work: Path, start: float):
        self.work, self.start = work, start
        self.procs: dict[str, subprocess.Popen] = {}
        self.timeline: list[dict] = []

    def note(self, what: str) -> None:
        self.timeline.append({"at": round(time.monotonic() - self.start, 2), "what": what})

    def spawn(self, name: str, argv: list[str], env: dict) -> None:
        out = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(  # noqa: S603 (our own commands)
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs[name] = proc
        with open(self.work / "pgids", "a") as f:
            f.write(f"{proc.pid}\n")

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.note(f"kill -9 {name} (process group {proc.pid})")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _ports_to(pid: int, remote_port: int) -> set[int]:
    """Local ports of the TCP connections process ``pid`` holds to 127.0.0.1:``remote_port`` (from /proc)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == remote_port:
                ports.add(int(local.split(":")[1], 16))
    return ports


def mid_send(pid: int, twilio_port: int) -> bool:
    """Whether process ``pid`` waits for the fake Twilio's answer to a POST Twilio has taken."""
    conn = HTTPConnection("127.0.0.1", twilio_port, timeout=2)
    try:
        conn.request("GET", "/inflight")
        inflight = set(json.loads(conn.getresponse().read())["ports"])
    finally:
        conn.close()
    return bool(inflight & _ports_to(pid, twilio_port))


def wait_http(port: int, path: str = "/login", seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"127.0.0.1:{port} did not answer within {seconds} s")


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream hotline_app {{
        server 127.0.0.1:{port_a} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:{port_b} max_fails=1 fail_timeout=2s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hotline_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 65s;
        }}
        # Twilio's webhooks are keyed by their SID (stored once whatever the tries): a request whose
        # node died under it goes to the other node, also after it was sent.
        location /twilio/ {{
            proxy_pass http://hotline_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 65s;
            proxy_next_upstream error non_idempotent;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def seed(database_url: str, t0: datetime, window: float, run: str) -> dict:
    """Duty lines, tickets whose escalation steps fall due in [t0 + 5 s, t0 + window], outbox messages due then."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert

    from hotline import create_app
    from hotline.extensions import db
    from hotline.notify.service import enqueue_sms
    from models.duty import DutyLine
    from models.ticket import Ticket

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_CHECKPOINT_SECONDS": 0})
    warn, urge = timedelta(minutes=22, seconds=30), timedelta(minutes=30)  # P1 dispatch: 0.75 and 1.0 of 30 min
    expected, rows = [], []
    count_a, count_b = 300, 100
    for i in range(count_a + count_b):
        due = t0 + timedelta(seconds=5 + (window - 5) * ((i * 7919) % (count_a + count_b)) / (count_a + count_b))
        # Group A: the warn step falls due during the run; group B: warn is overdue already, urge falls due.
        opened = due - warn if i < count_a else due - urge
        number = f"CL{run[-4:]}{i:06d}"
        expected.append({"number": number, "level": "warn", "at": (opened + warn).isoformat()})
        if i >= count_a:
            expected.append({"number": number, "level": "urge", "at": (opened + urge).isoformat()})
        rows.append(
            {
                "number": number,
                "channel": "voice",
                "category": "other",
                "priority": "P1",
                "summary": "cluster bench",
                "status": "open",
                "confidential": False,
                "sensitive": False,
                "mandatory_report": False,
                "created_at": opened,
                "updated_at": opened,
                "first_contact_at": opened,
                "advance_relief_at": opened,
                "dispatch_started_at": opened,
                "dispatch_due_at": opened + urge,
                "next_deadline_at": opened + urge,
                "next_escalation_at": opened + warn,
                "version": 1,
            }
        )
    outbox = 300
    with app.app_context():
        for position, phone in enumerate(DUTY_PHONES):
            db.session.add(
                DutyLine(label=f"值班{position + 1}", phone=phone, on_duty=True, position=position, updated_at=t0)
            )
        db.session.execute(insert(Ticket), rows)
        for i in range(outbox):
            at = t0 + timedelta(seconds=2 + (window - 2) * i / outbox)
            enqueue_sms(to=f"+86137{int(run) % 10000:04d}{i:04d}", body=f"集群测试通知 {run}-{i}", now=at)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"tickets": len(rows), "steps": expected, "outbox_seeded": outbox}


def sms_forms(run: str, n: int) -> list[dict]:
    return [
        {
            "MessageSid": f"SM{int(run):08x}{i:024x}",
            "SmsSid": f"SM{int(run):08x}{i:024x}",
            "AccountSid": ACCOUNT,
            "From": f"+86139{(int(run) * 10000 + i) % 10**8:08d}",
            "To": HOTLINE_NUMBER,
            "Body": BODIES[i % len(BODIES)],
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        for i in range(n)
    ]


#: What a text's answer says when the node kept it in its spool (the database away): the number follows by SMS.
SPOOLED = "稍后".encode()


def post_once(port: int, data: bytes, signature: str) -> tuple[int, bool]:
    conn = HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(
            "POST",
            "/twilio/sms",
            body=data,
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        return response.status, SPOOLED in response.read()
    finally:
        conn.close()


def send_all(port: int, forms: list[dict], seconds: float, start: float) -> list[dict]:
    """Each form POSTed at its instant over ``seconds``; a connection failure or 502/503/504 is tried again."""
    from twilio.request_validator import RequestValidator

    url = f"http://127.0.0.1:{port}/twilio/sms"
    validator = RequestValidator(TOKEN)
    signed = [(urlencode(form).encode(), validator.compute_signature(url, form)) for form in forms]
    results: list[dict] = [{}] * len(forms)

    def one(i: int) -> None:
        time.sleep(max(0.0, start + i * seconds / len(forms) - time.monotonic()))
        began = time.monotonic()
        tries, spooled = [], False
        for _attempt in range(ATTEMPTS):
            try:
                status, spooled = post_once(port, *signed[i])
            except (OSError, TimeoutError) as exc:
                status = type(exc).__name__
            tries.append(status)
            if status in (200, 204):
                break
            time.sleep(0.5)
        results[i] = {
            "tries": tries,
            "status": tries[-1],
            "spooled": spooled,
            "latency": time.monotonic() - began,
            "sent_at": began - start,
        }

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(one, range(len(forms)), timeout=seconds + ATTEMPTS * (REQUEST_TIMEOUT + 1) + 60))
    return results


def run(args) -> int:
    work = Path(args.work)
    run_id = str(int(time.time()) % 10**8)
    ports = {name: free_port() for name in ("nginx", "a", "b", "twilio", "proxy")}
    pg_port = urlparse(args.database_url.replace("postgresql+psycopg", "postgresql")).port or 5432
    url_b = args.database_url.replace(f":{pg_port}/", f":{ports['proxy']}/")
    t0 = datetime.now(UTC) + timedelta(seconds=args.lead)
    seeded = seed(args.database_url, t0, args.seconds, run_id)
    start = time.monotonic() + (t0 - datetime.now(UTC)).total_seconds()
    procs = Processes(work, start)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))} | {
        "HOTLINE_DATABASE_URL": args.database_url,
        "HOTLINE_SECRET_KEY": secrets.token_hex(32),
        "HOTLINE_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['nginx']}",
        "HOTLINE_PROXY_HOPS": "1",
        "HOTLINE_UPLOAD_DIR": str(work / "uploads"),
        "HOTLINE_LOG_LEVEL": "WARNING",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "HOTLINE_TWILIO_NUMBER": HOTLINE_NUMBER,
        "HOTLINE_TWILIO_API_BASE": f"http://127.0.0.1:{ports['twilio']}",
        "HOTLINE_TWILIO_TIMEOUT": "2",
        "HOTLINE_SMS_LEASE_SECONDS": "30",
        "HOTLINE_SMS_RETRY_SECONDS": "2",
        "HOTLINE_OUTBOX_SECONDS": "2",
        "HOTLINE_SWEEP_SECONDS": "2",
        "HOTLINE_WEB_SPOOL_REPLAY_SECONDS": "2",
    }
    spools = {"a": work / "spool-a", "b": work / "spool-b"}
    cut_file = work / "cut-b"
    slow_file = work / "slow-twilio"

    def web_env(node: str) -> dict:
        return base_env | {
            "HOTLINE_BIND": f"127.0.0.1:{ports[node]}",
            "HOTLINE_WEB_WORKERS": "2",
            "HOTLINE_SPOOL_DIR": str(spools[node]),
            "HOTLINE_ACCESS_LOG": "/dev/null",
            "HOTLINE_GUNICORN_LOG_LEVEL": "warning",
            "HOTLINE_DATABASE_URL": args.database_url if node == "a" else url_b,
        }

    gunicorn = [str(VENV / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "app:app"]
    # Both schedulers run on node A (its spool folder); node B has only gunicorn.
    scheduler = [str(VENV / "flask"), "--app", "app", "hotline", "scheduler"]
    scheduler_env = base_env | {"HOTLINE_SPOOL_DIR": str(spools["a"])}
    prefix = work / "nginx"
    for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(
        NGINX_CONF.format(prefix=prefix, port=ports["nginx"], port_a=ports["a"], port_b=ports["b"])
    )
    py = str(VENV / "python")
    failed: list[str] = []
    try:
        procs.spawn(
            "twilio",
            [
                py,
                __file__,
                "fake-twilio",
                "--port",
                str(ports["twilio"]),
                "--log",
                str(work / "twilio.jsonl"),
                "--delay",
                str(args.twilio_delay),
                "--slow-file",
                str(slow_file),
            ],
            base_env,
        )
        procs.spawn(
            "db-proxy",
            [
                py,
                __file__,
                "db-proxy",
                "--port",
                str(ports["proxy"]),
                "--target-port",
                str(pg_port),
                "--cut-file",
                str(cut_file),
            ],
            base_env,
        )
        procs.spawn("web-a", gunicorn, web_env("a"))
        procs.spawn("web-b", gunicorn, web_env("b"))
        procs.spawn(
            "nginx",
            ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
            base_env,
        )
        wait_http(ports["a"])
        wait_http(ports["b"])
        wait_http(ports["nginx"])
        procs.spawn("scheduler-1", scheduler, scheduler_env)
        procs.spawn("scheduler-2", scheduler, scheduler_env)
        if time.monotonic() > start - 1:  # a loaded machine took longer to start than the lead: all moves later
            start = time.monotonic() + 1
            procs.start = start
        procs.note("all started")
        load_before = os.getloadavg()

        def at(second: float, action) -> threading.Thread:
            def go():
                time.sleep(max(0.0, start + second - time.monotonic()))
                action()

            thread = threading.Thread(target=go)
            thread.start()
            return thread

        def kills():
            """Slow Twilio, kill web A, kill scheduler 1 mid-send (within 3 s), fast Twilio, restart both."""
            slow_file.touch()
            procs.note("Twilio answers in 1.5 s")
            time.sleep(max(0.0, start + args.kill_at - time.monotonic()))
            procs.kill9("web-a")
            pid, caught = procs.procs["scheduler-1"].pid, False
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if mid_send(pid, ports["twilio"]):
                    caught = True
                    break
                time.sleep(0.02)
            procs.kill9("scheduler-1")
            procs.note("scheduler 1 was " + ("" if caught else "NOT ") + "waiting for Twilio's answer to a message")
            slow_file.unlink()
            procs.note("Twilio answers at once again")
            time.sleep(max(1.0, start + args.restart_at - time.monotonic()))
            procs.spawn("web-a", gunicorn, web_env("a"))
            procs.spawn("scheduler-1", scheduler, scheduler_env)
            procs.note("restarted web-a and scheduler-1")

        def cut():
            cut_file.touch()
            procs.note("node B loses the database (its connections dropped, new ones refused)")

        def restore():
            cut_file.unlink()
            procs.note("node B reaches the database again")

        timers = [at(args.kill_at - 3, kills)]
        if args.cut_at >= 0:
            timers += [at(args.cut_at, cut), at(args.restore_at, restore)]
        results = send_all(ports["nginx"], sms_forms(run_id, args.n), args.seconds, start)
        procs.note(f"{args.n} SMS sent")
        for thread in timers:
            thread.join(timeout=120)
        load_after = os.getloadavg()
        settled = settle(args.database_url, spools, start, t0 + timedelta(seconds=args.seconds), procs)
        figures = check(args.database_url, run_id, args.n, seeded, results, work, spools)
    finally:
        procs.stop_all()
    figures["timeline"] = procs.timeline
    figures["settled"] = settled
    figures["load"] = {"before": load_before, "after_send": load_after}
    for line in report_lines(figures):
        print(line)
    failed = figures["failed"]
    print(json.dumps({"invariants": "FAILED: " + "; ".join(failed) if failed else "all hold"}, ensure_ascii=False))
    return 1 if failed else 0


def _engine(database_url: str):
    from sqlalchemy import create_engine

    return create_engine(database_url)


def settle(database_url: str, spools: dict, start: float, last_due: datetime, procs: Processes) -> dict:
    """Wait (at most 180 s) until both spools are empty, no outbox message waits, a sweep ran past the last due step."""
    from sqlalchemy import text

    engine = _engine(database_url)
    deadline = time.monotonic() + 180
    state = {}
    try:
        while time.monotonic() < deadline:
            waiting = {node: _spool_count(path) for node, path in spools.items()}
            with engine.connect() as conn:
                outbox = conn.execute(
                    text("SELECT count(*) FROM outbox_message WHERE status IN ('queued', 'sending')")
                ).scalar()
                beat = conn.execute(text("SELECT beat_at FROM heartbeat WHERE name = 'sweep'")).scalar()
            swept = beat is not None and _aware(beat) > last_due + timedelta(seconds=1)
            state = {"spool_waiting": waiting, "outbox_waiting": outbox, "swept_past_last_due": swept}
            if not any(waiting.values()) and outbox == 0 and swept:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    procs.note(f"settled: {json.dumps(state)}")
    return state


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _spool_count(root: Path) -> int:
    total = 0
    for sub in ("pending", "claimed"):
        with contextlib.suppress(FileNotFoundError):
            total += sum(1 for name in os.listdir(root / sub) if name.endswith(".json") and not name.startswith("."))
    return total


def check(database_url: str, run_id: str, n: int, seeded: dict, results: list[dict], work: Path, spools: dict) -> dict:
    from sqlalchemy import bindparam, text

    forms = sms_forms(run_id, n)
    sids = [f["MessageSid"] for f in forms]
    failed = []
    engine = _engine(database_url)
    with engine.connect() as conn:
        rows, distinct, tickets = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT provider_sid), count(DISTINCT ticket_id) FROM interaction"
                " WHERE provider_sid IN :sids"
            ).bindparams(bindparam("sids", expanding=True)),
            {"sids": sids},
        ).one()
        numbers = [s["number"] for s in seeded["steps"]]
        steps = conn.execute(
            text(
                "SELECT t.number, s.level, count(*) FROM escalation_step s JOIN ticket t ON t.id = s.ticket_id"
                " WHERE t.number IN :numbers GROUP BY t.number, s.level"
            ).bindparams(bindparam("numbers", expanding=True)),
            {"numbers": numbers},
        ).all()
        events = conn.execute(
            text(
                "SELECT t.number, e.kind, count(*) FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id"
                " WHERE t.number IN :numbers AND e.kind LIKE 'escalation_%' GROUP BY t.number, e.kind"
            ).bindparams(bindparam("numbers", expanding=True)),
            {"numbers": numbers},
        ).all()
        follow_ups = conn.execute(
            text("SELECT count(*) FROM outbox_message WHERE to_number IN :senders").bindparams(
                bindparam("senders", expanding=True)
            ),
            {"senders": [f["From"] for f in forms]},
        ).scalar()
        outbox = conn.execute(
            text("SELECT id, to_number, body, status, provider_sid, attempts FROM outbox_message")
        ).all()
    engine.dispose()
    # Messages.
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
    retried = sum(1 for r in results if len(r.get("tries", [])) > 1)
    latencies = sorted(r["latency"] for r in results if "latency" in r)
    leftovers = {node: _spool_count(path) for node, path in spools.items()}
    quarantined = {node: len(list((path / "quarantine").glob("*.json"))) for node, path in spools.items()}
    messages = {
        "sent": n,
        "stored_distinct_sid": distinct,
        "duplicate_rows": rows - distinct,
        "lost": n - distinct,
        "tickets_opened": tickets,
        "spool_left": leftovers,
        "spool_quarantined": quarantined,
        "answered_from_the_spool": sum(1 for r in results if r.get("spooled")),
        "number_sms_after_replay": follow_ups,
        "answers": statuses,
        "requests_tried_again": retried,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "slowest_ms_by_5s": _slowest(results),
    }
    if distinct != n:
        failed.append(f"{n - distinct} messages lost")
    if rows != distinct:
        failed.append(f"{rows - distinct} duplicate messages")
    if tickets != n:
        failed.append(f"{tickets} tickets for {n} senders")
    if any(leftovers.values()) or any(quarantined.values()):
        failed.append(f"spool not empty: {leftovers}, quarantined {quarantined}")
    # Escalation steps.
    due = {(s["number"], s["level"]) for s in seeded["steps"]}
    written = {(number, level): c for number, level, c in steps}
    event_counts = {(number, kind.removeprefix("escalation_")): c for number, kind, c in events}
    escalation = {
        "due": len(due),
        "written": sum(1 for key in due if written.get(key)),
        "missing": len(due - set(written)),
        "unexpected": len(set(written) - due),
        "duplicate_steps": sum(c - 1 for c in written.values() if c > 1),
        "events": sum(event_counts.values()),
        "duplicate_events": sum(c - 1 for c in event_counts.values() if c > 1),
    }
    if escalation["missing"] or escalation["unexpected"] or escalation["duplicate_steps"]:
        failed.append(f"escalation steps: {escalation}")
    if escalation["duplicate_events"] or escalation["events"] != len(due):
        failed.append(f"escalation events: {escalation}")
    # Outbox against the fake Twilio's log.
    posts = [json.loads(line) for line in (work / "twilio.jsonl").read_text(encoding="utf-8").splitlines() if line]
    per_message: dict[tuple[str, str], int] = {}
    for post in posts:
        per_message[(post["to"], post["body"])] = per_message.get((post["to"], post["body"]), 0) + 1
    to_send = [m for m in outbox if m.status != "not_sent"]
    counts = [per_message.get((m.to_number, m.body), 0) for m in to_send]
    sids_at_twilio = {post["sid"] for post in posts}
    out = {
        "rows": len(outbox),
        "to_send": len(to_send),
        "not_sent_rows": len(outbox) - len(to_send),
        "twilio_posts": len(posts),
        "rows_posted_once": sum(1 for c in counts if c == 1),
        "rows_posted_twice_or_more": sum(1 for c in counts if c > 1),
        "rows_never_posted": sum(1 for c in counts if c == 0),
        "rows_not_marked_sent": sum(1 for m in to_send if m.status != "sent"),
        "rows_with_a_sid_twilio_never_gave": sum(1 for m in to_send if m.provider_sid not in sids_at_twilio),
        "rows_tried_more_than_once": sum(1 for m in to_send if m.attempts > 1),
        "posts_of_no_row": len(posts) - sum(counts),
        "found_at_twilio_not_sent_again": _adopted(work),
    }
    if out["rows_posted_twice_or_more"] or out["rows_never_posted"] or out["rows_not_marked_sent"]:
        failed.append(f"outbox: {out}")
    if out["rows_with_a_sid_twilio_never_gave"] or out["posts_of_no_row"]:
        failed.append(f"outbox: {out}")
    return {"messages": messages, "escalation": escalation, "outbox": out, "failed": failed}


def _slowest(results: list[dict]) -> list[int]:
    """The slowest answer (ms) among the requests sent in each 5 s of the run."""
    slowest: dict[int, float] = {}
    for r in results:
        if "latency" in r:
            window = int(r["sent_at"] // 5)
            slowest[window] = max(slowest.get(window, 0.0), r["latency"])
    return [round(slowest.get(w, 0.0) * 1000) for w in range(max(slowest, default=-1) + 1)]


def _adopted(work: Path) -> int:
    """Messages a sender found at Twilio already (an earlier attempt got there) and did not send again."""
    return sum(
        log.read_text(encoding="utf-8", errors="replace").count("Twilio took it already")
        for log in work.glob("scheduler-*.log")
    )


def report_lines(figures: dict) -> list[str]:
    m, e, o = figures["messages"], figures["escalation"], figures["outbox"]
    return [
        f"messages: sent {m['sent']} / stored {m['stored_distinct_sid']} / duplicates {m['duplicate_rows']} / "
        f"lost {m['lost']} (tickets {m['tickets_opened']}; spool left {m['spool_left']}, "
        f"quarantined {m['spool_quarantined']}; answered from a spool {m['answered_from_the_spool']}, "
        f"their number texted after the replay {m['number_sms_after_replay']})",
        f"answers: {m['answers']}; requests tried again {m['requests_tried_again']}; "
        f"latency p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, max {m['max_ms']} ms; "
        f"slowest by 5 s of sending: {m['slowest_ms_by_5s']} ms",
        f"escalation steps: due {e['due']} / written {e['written']} / missing {e['missing']} / "
        f"duplicates {e['duplicate_steps']} / unexpected {e['unexpected']} (events {e['events']}, "
        f"duplicate events {e['duplicate_events']})",
        f"outbox: to send {o['to_send']} / Twilio POSTs {o['twilio_posts']} / each once {o['rows_posted_once']} / "
        f"twice or more {o['rows_posted_twice_or_more']} / never {o['rows_never_posted']} / not marked sent "
        f"{o['rows_not_marked_sent']} (tried more than once {o['rows_tried_more_than_once']}, found at Twilio "
        f"and not sent again {o['found_at_twilio_not_sent_again']}, not_sent rows {o['not_sent_rows']})",
        "timeline: " + "; ".join(f"{t['at']:+.1f}s {t['what']}" for t in figures["timeline"]),
        f"settled: {json.dumps(figures['settled'])}",
        f"load average: before {figures['load']['before']}, after sending {figures['load']['after_send']}",
        json.dumps({k: figures[k] for k in ("messages", "escalation", "outbox")}, ensure_ascii=False),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("run")
    p.add_argument("--work", required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--lead", type=float, default=8, help="seconds from seeding to the first request")
    p.add_argument("--kill-at", type=float, default=12)
    p.add_argument("--restart-at", type=float, default=17)
    p.add_argument("--cut-at", type=float, default=24, help="-1: node B never loses the database")
    p.add_argument("--restore-at", type=float, default=28)
    p.add_argument("--twilio-delay", type=float, default=0.01)
    p = sub.add_parser("fake-twilio")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--delay", type=float, default=0.01)
    p.add_argument("--slow-file", required=True)
    p.add_argument("--slow-delay", type=float, default=1.5)
    p = sub.add_parser("db-proxy")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target-port", type=int, default=5432)
    p.add_argument("--cut-file", required=True)
    args = parser.parse_args()
    if args.mode == "run":
        sys.exit(run(args))
    {"fake-twilio": fake_twilio, "db-proxy": db_proxy}[args.mode](args)


if __name__ == "__main__":
    main()
