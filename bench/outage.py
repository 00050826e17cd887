"""The outage bench's Python half (``bench/outage.sh`` runs it): signed SMS under a database outage.

    outage.py send --url http://127.0.0.1:PORT --token T --run R [-n 300] [--seconds 10] [--warmup 20]
                   [--down-at 3 --down-cmd CMD] [--up-at 7 --up-cmd CMD]
        After WARMUP requests one by one (not counted), sends N distinct signed
        inbound-SMS webhooks evenly over SECONDS (each on its own thread at its
        own instant, so a slow answer delays no other request), runs DOWN-CMD
        and UP-CMD at their seconds, and prints one JSON line: sent, answered
        2xx, other answers, errors, max/p99/p50 latency, the slowest answer of
        each second.
    outage.py hold --db PATH --seconds 12
        Holds SQLite's write lock (the app's write-turn file lock and a
        BEGIN IMMEDIATE transaction) for SECONDS.
    outage.py count --database-url URL --run R [-n 300]
        Prints one JSON line: interactions stored with the run's MessageSids,
        duplicates among them, tickets they opened, follow-up SMS queued to them.

Every loop is bounded in count and time, and only 127.0.0.1 is ever called.
"""

import argparse
import fcntl
import json
import shlex
import sqlite3
import subprocess
import threading
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen

BODIES = [
    "我父亲突发脑溢血住院，家里拿不出医药费，请帮帮我们",
    "家里房子昨晚失火了，一家四口没有地方住",
    "我在火车站钱包被偷了，回不了家",
    "请问临时救助怎么申请？需要什么材料？",
    "邻居独居老人好几天没出门了，电话也打不通",
]
#: Longest a request may take before the sender gives up on it (Twilio gives up after 15 s).
REQUEST_TIMEOUT = 15


def sid(run: int, i: int) -> str:
    return f"SM{run:08x}{i:024x}"


def sender(run: int, i: int) -> str:
    return f"+86139{(run * 1000 + i) % 10**8:08d}"


def _forms(run: int, n: int) -> list[dict]:
    return [
        {
            "MessageSid": sid(run, i),
            "SmsSid": sid(run, i),
            "AccountSid": "AC" + "0" * 32,
            "From": sender(run, i),
            "To": "+8612345",
            "Body": BODIES[i % len(BODIES)],
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        for i in range(n)
    ]


def _run_at(start: float, second: float, command: str, log: list) -> None:
    time.sleep(max(0.0, start + second - time.monotonic()))
    began = time.monotonic()
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    log.append(
        {
            "at": round(began - start, 2),
            "took": round(time.monotonic() - began, 2),
            "command": command,
            "rc": done.returncode,
        }
    )


def send(args) -> None:
    from twilio.request_validator import RequestValidator

    host = urlparse(args.url).hostname
    if host != "127.0.0.1":
        raise SystemExit("only 127.0.0.1 is called")
    url = args.url.rstrip("/") + "/twilio/sms"
    validator = RequestValidator(args.token)
    forms = _forms(args.run, args.n + args.warmup)
    signed = [(urlencode(form).encode(), validator.compute_signature(url, form)) for form in forms]
    # A server in service is warm: a few requests first (SIDs after the counted ones), on both workers.
    for data, signature in signed[args.n :]:
        warm = Request(url, data=data, headers={"X-Twilio-Signature": signature}, method="POST")  # noqa: S310
        with urlopen(warm, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310 (127.0.0.1 only)
            response.read()
    results: list[tuple[int, float] | None] = [None] * args.n
    actions: list[dict] = []
    start = time.monotonic() + 0.2

    def one(i: int) -> None:
        time.sleep(max(0.0, start + i * args.seconds / args.n - time.monotonic()))
        data, signature = signed[i]
        request = Request(url, data=data, headers={"X-Twilio-Signature": signature}, method="POST")  # noqa: S310
        began = time.monotonic()
        try:
            with urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310 (127.0.0.1 only)
                response.read()
                status = response.status
        except HTTPError as exc:
            status = exc.code
        except (URLError, TimeoutError, ConnectionError):
            status = 0
        results[i] = (status, time.monotonic() - began)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.n)]
    timers = []
    if args.down_cmd:
        timers.append(threading.Thread(target=_run_at, args=(start, args.down_at, args.down_cmd, actions)))
    if args.up_cmd:
        timers.append(threading.Thread(target=_run_at, args=(start, args.up_at, args.up_cmd, actions)))
    for thread in timers + threads:
        thread.start()
    for thread in threads + timers:
        thread.join(timeout=args.seconds + REQUEST_TIMEOUT + 70)
    done = [r for r in results if r is not None]
    # The slowest answer among the requests sent in each second of the run.
    slowest = [0.0] * int(args.seconds + 1)
    for i, result in enumerate(results):
        if result is not None:
            second = int(i * args.seconds / args.n)
            slowest[second] = max(slowest[second], round(result[1], 2))
    latencies = sorted(seconds for _status, seconds in done)
    print(
        json.dumps(
            {
                "sent": args.n,
                "answered_2xx": sum(1 for status, _ in done if 200 <= status < 300),
                "answered_other": sum(1 for status, _ in done if status >= 300),
                "errors": sum(1 for status, _ in done if status == 0) + args.n - len(done),
                "max_latency_s": round(latencies[-1], 3) if latencies else None,
                "p99_latency_s": round(latencies[int(len(latencies) * 0.99) - 1], 3) if latencies else None,
                "p50_latency_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
                "answers_over_3s": sum(1 for s in latencies if s > 3),
                "slowest_by_second": slowest,
                "actions": actions,
            }
        )
    )


def hold(args) -> None:
    """Hold the write turn's file lock and SQLite's write lock, as a stuck writer would."""
    fd = open(f"{args.db}.writelock", "a+")  # noqa: SIM115 (held for the whole run)
    fcntl.flock(fd, fcntl.LOCK_EX)
    connection = sqlite3.connect(args.db, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    time.sleep(args.seconds)
    connection.execute("ROLLBACK")
    connection.close()
    fcntl.flock(fd, fcntl.LOCK_UN)
    fd.close()


def count(args) -> None:
    from sqlalchemy import bindparam, create_engine, text

    sids = [sid(args.run, i) for i in range(args.n)]
    senders = [sender(args.run, i) for i in range(args.n)]
    stored = text(
        "SELECT count(*), count(DISTINCT provider_sid), count(DISTINCT ticket_id) FROM interaction"
        " WHERE provider_sid IN :sids"
    ).bindparams(bindparam("sids", expanding=True))
    queued = text("SELECT count(*) FROM outbox_message WHERE to_number IN :senders").bindparams(
        bindparam("senders", expanding=True)
    )
    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        rows, distinct, tickets = conn.execute(stored, {"sids": sids}).one()
        follow_ups = conn.execute(queued, {"senders": senders}).scalar()
    engine.dispose()
    print(
        json.dumps(
            {"stored": distinct, "duplicates": rows - distinct, "tickets": tickets, "number_follow_up_sms": follow_ups}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("send")
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("-n", type=int, default=300)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--warmup", type=int, default=20, help="requests sent (and not counted) before the run")
    p.add_argument("--down-at", type=float, default=3)
    p.add_argument("--down-cmd")
    p.add_argument("--up-at", type=float, default=7)
    p.add_argument("--up-cmd")
    p = sub.add_parser("hold")
    p.add_argument("--db", required=True)
    p.add_argument("--seconds", type=float, default=12)
    p = sub.add_parser("count")
    p.add_argument("--database-url", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    {"send": send, "hold": hold, "count": count}[args.mode](args)


if __name__ == "__main__":
    main()
