"""The intake spool: Twilio requests the database could not take, kept on local disk until it can.

Twilio does not retry an inbound-SMS webhook, and a caller cannot wait for a
database to come back. When a webhook finds the database unreachable (or
SQLite's write lock busy past the webhook's bound), it writes the request,
its signature already checked, here and answers from what the process knows
without the database (``hotline.intake.views``); ``hotline.intake.replay``
later runs each record through the same service functions, in arrival order.

Layout of the spool folder (``HOTLINE_SPOOL_DIR``, else ``instance/spool``):

- ``pending/``: one JSON file per request, named
  ``<received_at in microseconds>-<key hash>-<random>.json`` so that the names
  sort in arrival order, and a request can tell whether an earlier one of the
  same call or sender still waits (the key hash: no phone number in a name);
- ``claimed/``: records being replayed, renamed there by one replayer
  (``<pid>-<name>``); a claim of a process that died goes back to ``pending/``;
- ``quarantine/``: records that cannot be replayed, each beside a
  ``<name>.reason`` file saying why; shown to admins, never deleted here;
- ``roster.json``: the last duty roster read from the database, so that a
  call still rings the operators on duty while the database is away;
- ``down``: present while the database is known to be away (see ``attempt``).

A record is written to a temporary file, fsync'd, renamed into ``pending/``,
and the folder is fsync'd: once the webhook answers, the request survives a
crash of the process or the machine.
"""

import fcntl
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc

from hotline.intake.writelock import WriteTurnTimeout

log = logging.getLogger(__name__)

#: Version of the record format; a record of any other version is quarantined.
FORMAT = 1

try:  # the PostgreSQL driver raises its own errors on the raw connections of the SMS path
    import psycopg

    _DRIVER_UNAVAILABLE: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
    _DRIVER_ERRORS: tuple[type[BaseException], ...] = (psycopg.Error,)
except ImportError:  # pragma: no cover (psycopg is a requirement; SQLite-only installs still work)
    _DRIVER_UNAVAILABLE = _DRIVER_ERRORS = ()

#: The database is away or busy: try again later. A replay leaves the record in the spool.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool had no connection in time
    sqlite3.OperationalError,
    WriteTurnTimeout,
    *_DRIVER_UNAVAILABLE,
)
#: Any failure of the database: a webhook spools the request rather than answer 5xx.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    sa_exc.DBAPIError,
    sqlite3.Error,
    *_DRIVER_ERRORS,
)


class BadRecord(Exception):
    """A spool record that can never be replayed; the message says why."""


@dataclass(frozen=True)
class Record:
    """One spooled Twilio request."""

    name: str
    endpoint: str
    #: The form and query as Twilio sent them: each name with its list of values.
    form: dict[str, list[str]]
    args: dict[str, list[str]]
    received_at: datetime
    #: What the webhook answered without the database, when the replay must follow it (voice steps).
    answer: str | None


@dataclass(frozen=True)
class RosterLine:
    """A duty line as the snapshot keeps it: what ``twiml.dial`` needs to ring it."""

    id: int
    phone: str | None
    client_identity: str | None


def key_hash(key: str) -> str:
    """The part of a record's name that tells records of one call or sender apart (no personal data)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def received_at_of(name: str) -> datetime | None:
    """The arrival time written at the start of a record's name; None for a name not made here."""
    head = name.split("-", 1)[0]
    if not head.isdigit():
        return None
    return datetime.fromtimestamp(int(head) / 1_000_000, tz=UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _names(folder: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(folder) if name.endswith(".json") and not name.startswith("."))
    except FileNotFoundError:
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """The spool folder of one application (see the module's docstring)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.pending = self.root / "pending"
        self.claimed = self.root / "claimed"
        self.quarantine_dir = self.root / "quarantine"
        self.roster_path = self.root / "roster.json"
        self.down_path = self.root / "down"
        # Plain strings for what every webhook request looks at (cheaper than Path objects).
        self._pending, self._claimed, self._down = str(self.pending), str(self.claimed), str(self.down_path)
        self._roster: tuple[RosterLine, ...] | None = None
        self._roster_mtime: int | None = None

    def _ensure(self) -> None:
        for folder in (self.pending, self.claimed, self.quarantine_dir):
            folder.mkdir(parents=True, exist_ok=True)

    # --- writing --------------------------------------------------------------------------

    def write(
        self,
        endpoint: str,
        *,
        key: str,
        form: dict[str, list[str]],
        args: dict[str, list[str]],
        received_at: datetime,
        answer: str | None = None,
    ) -> str:
        """Store one request durably (file and folder fsync'd) and return its record's name."""
        self._ensure()
        record = {
            "version": FORMAT,
            "endpoint": endpoint,
            "received_at": received_at.astimezone(UTC).isoformat(),
            "form": form,
            "args": args,
            "answer": answer,
        }
        data = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
        name = f"{_micros(received_at):017d}-{key_hash(key)}-{secrets.token_hex(4)}.json"
        temporary = self.pending / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, self.pending / name)
        _fsync_dir(self.pending)
        return name

    # --- what waits -------------------------------------------------------------------------

    def waiting_names(self) -> list[str]:
        """Names of the records waiting for a replay, in arrival order (claimed ones included)."""
        claimed = [name.split("-", 1)[1] for name in _names(self.claimed) if "-" in name]
        return sorted(_names(self.pending) + claimed)

    def holds(self, key: str) -> bool:
        """Whether a record of the same call or sender still waits: a later request must queue behind it.

        On every webhook request: with nothing waiting, two listings of an empty (or absent) folder.
        """
        part = None
        for folder in (self._pending, self._claimed):
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            if names:
                part = part or f"-{key_hash(key)}-"
                if any(part in name for name in names):
                    return True
        return False

    def stats(self, now: datetime) -> dict:
        """Count and oldest age (seconds) of the waiting records, and how many are quarantined."""
        waiting = self.waiting_names()
        oldest = received_at_of(waiting[0]) if waiting else None
        return {
            "count": len(waiting),
            "oldest_age_seconds": max(0, int((now - oldest).total_seconds())) if oldest else None,
            "quarantined": len(_names(self.quarantine_dir)),
        }

    # --- replaying --------------------------------------------------------------------------

    @contextmanager
    def replaying(self) -> Iterator[bool]:
        """Yield True for the one replayer of the moment (False: another is at work), so order holds."""
        self._ensure()
        fd = os.open(self.root / "replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def recover(self) -> int:
        """Put back in ``pending/`` the claims of processes that died mid-replay; return how many."""
        recovered = 0
        for name in _names(self.claimed):
            pid, _, original = name.partition("-")
            if pid.isdigit() and original and not _pid_alive(int(pid)):
                try:
                    os.rename(self.claimed / name, self.pending / original)
                except FileNotFoundError:
                    continue
                recovered += 1
        return recovered

    def pending_names(self) -> list[str]:
        return _names(self.pending)

    def claim(self, name: str) -> Path | None:
        """Take ``name`` for this process by an atomic rename; None when another process took it first."""
        target = self.claimed / f"{os.getpid()}-{name}"
        try:
            os.rename(self.pending / name, target)
        except FileNotFoundError:
            return None
        return target

    def release(self, claimed: Path) -> None:
        """Give a claimed record back (the database went away again): the next replay takes it."""
        os.rename(claimed, self.pending / claimed.name.split("-", 1)[1])

    def done(self, claimed: Path) -> None:
        """The record was replayed: it leaves the spool."""
        claimed.unlink()

    def quarantine(self, claimed: Path, reason: str, *, now: datetime) -> str:
        """Move a record that cannot be replayed aside, with why; return its name."""
        name = claimed.name.split("-", 1)[1] if claimed.parent == self.claimed else claimed.name
        self._ensure()
        os.rename(claimed, self.quarantine_dir / name)
        note = {"reason": reason[:2000], "quarantined_at": now.astimezone(UTC).isoformat()}
        (self.quarantine_dir / f"{name}.reason").write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
        _fsync_dir(self.quarantine_dir)
        return name

    def requeue(self, name: str) -> bool:
        """An admin asks for a quarantined record to be replayed again; False when there is no such record."""
        if "/" in name or not name.endswith(".json") or name.startswith("."):
            return False
        try:
            os.rename(self.quarantine_dir / name, self.pending / name)
        except FileNotFoundError:
            return False
        (self.quarantine_dir / f"{name}.reason").unlink(missing_ok=True)
        _fsync_dir(self.pending)
        return True

    def load(self, path: Path, endpoints) -> Record:
        """Read and check one record; ``BadRecord`` says why it can never be replayed."""
        return parse_record(
            path.name.split("-", 1)[1] if path.parent == self.claimed else path.name, path.read_bytes(), endpoints
        )

    # --- for admins -----------------------------------------------------------------------

    def listing(self, which: str, endpoints, limit: int) -> tuple[list[dict], int]:
        """The first ``limit`` records waiting (``which`` "waiting") or quarantined, and how many there are.

        Each row has the record's name, arrival time, endpoint, SID and sender
        when the record can be read, and the reason of a quarantined one.
        """
        if which == "waiting":
            folders = [(self.pending, name) for name in _names(self.pending)]
            folders += [(self.claimed, name) for name in _names(self.claimed)]
            folders.sort(key=lambda item: item[1].split("-", 1)[1] if item[0] == self.claimed else item[1])
        else:
            folders = [(self.quarantine_dir, name) for name in _names(self.quarantine_dir)]
        rows = []
        for folder, name in folders[:limit]:
            shown = name.split("-", 1)[1] if folder == self.claimed else name
            row = {"name": shown, "received_at": received_at_of(shown), "endpoint": None, "sid": None, "sender": None}
            try:
                data = (folder / name).read_bytes()
            except OSError:  # replayed or moved since the listing
                data = b""
            try:
                record = parse_record(shown, data, endpoints)
            except BadRecord:
                row |= _what_can_be_read(data)
            else:
                row |= {
                    "received_at": record.received_at,
                    "endpoint": record.endpoint,
                    "sid": _first(record.form, "MessageSid") or _first(record.form, "CallSid"),
                    "sender": _first(record.form, "From"),
                }
            if folder == self.quarantine_dir:
                row |= self._reason(name)
            rows.append(row)
        return rows, len(folders)

    def _reason(self, name: str) -> dict:
        try:
            note = json.loads((self.quarantine_dir / f"{name}.reason").read_text(encoding="utf-8"))
            at = datetime.fromisoformat(note["quarantined_at"])
            return {"reason": str(note["reason"]), "quarantined_at": at}
        except (OSError, ValueError, KeyError, TypeError):
            return {"reason": "", "quarantined_at": None}

    # --- while the database is away ------------------------------------------------------------

    def mark_down(self) -> None:
        """The database failed a request (or is being tried again): until one succeeds, see ``attempt``."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.down_path.touch()
        except OSError as exc:
            log.error("cannot mark the database as away in %s: %s", self.down_path, exc)

    def mark_up(self) -> None:
        self.down_path.unlink(missing_ok=True)

    @contextmanager
    def attempt(self, every: float) -> Iterator[str]:
        """Whether this request may try the database: "up" (it is up, as far as anyone knows), "probe" (it
        is not, and this request tries it again) or "wait" (spool at once).

        While the database is away, one request of all processes at a time
        tries it, and only when no other tried in the last ``every`` seconds:
        waiting for an absent database takes up to the webhook's bound, and
        meanwhile the others are spooled at once and their process is free for
        the next caller. The marker's time is when the last try began.
        """
        try:
            tried = os.stat(self._down).st_mtime
        except FileNotFoundError:
            yield "up"
            return
        fd = os.open(self.root / "probe.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield "wait"
                return
            try:
                if time.time() - tried < every:
                    yield "wait"
                    return
                self.mark_down()  # this try's start: the next waits ``every`` from now
                yield "probe"
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # --- the duty roster snapshot --------------------------------------------------------------

    def save_roster(self, lines) -> None:
        """Keep the lines on duty (read from the database just now) for calls while it is away."""
        snapshot = tuple(RosterLine(line.id, line.phone, line.client_identity) for line in lines)
        if snapshot == self._roster:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temporary = self.root / f".roster.{os.getpid()}.tmp"
            data = [{"id": line.id, "phone": line.phone, "client_identity": line.client_identity} for line in snapshot]
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, self.roster_path)
        except OSError as exc:
            log.error("cannot keep the duty roster in %s: %s", self.roster_path, exc)
            return
        self._roster = snapshot
        self._roster_mtime = self.roster_path.stat().st_mtime_ns

    def roster(self) -> tuple[RosterLine, ...]:
        """The lines on duty as last read (this process, or another one, through the file); none if never."""
        try:
            mtime = self.roster_path.stat().st_mtime_ns
        except FileNotFoundError:
            return self._roster or ()
        if mtime != self._roster_mtime:
            try:
                data = json.loads(self.roster_path.read_text(encoding="utf-8"))
                self._roster = tuple(RosterLine(int(d["id"]), d.get("phone"), d.get("client_identity")) for d in data)
                self._roster_mtime = mtime
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("the duty roster snapshot %s cannot be read: %s", self.roster_path, exc)
        return self._roster or ()


def _what_can_be_read(data: bytes) -> dict:
    """Endpoint, SID and sender of a record that cannot be replayed, as far as its JSON says; {} if it cannot."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    form = raw.get("form") if isinstance(raw.get("form"), dict) else {}

    def text(value) -> str | None:
        value = value[0] if isinstance(value, list) and value else value
        return value[:64] if isinstance(value, str) else None

    return {
        "endpoint": text(raw.get("endpoint")),
        "sid": text(form.get("MessageSid")) or text(form.get("CallSid")),
        "sender": text(form.get("From")),
    }


def _first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _fields(value, what: str) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v) for k, v in value.items()
    ):
        raise BadRecord(f"schema: {what} must map names to lists of text")
    return value


def parse_record(name: str, data: bytes, endpoints) -> Record:
    """Check a record's bytes: UTF-8, JSON, this format's version and fields, an endpoint in ``endpoints``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRecord(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"corrupt JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise BadRecord("schema: a record is a JSON object")
    if raw.get("version") != FORMAT:
        raise BadRecord(f"schema: format version {raw.get('version')!r} is not {FORMAT}")
    endpoint = raw.get("endpoint")
    if endpoint not in endpoints:
        raise BadRecord(f"unknown endpoint {endpoint!r}")
    try:
        received_at = datetime.fromisoformat(raw["received_at"])
    except (KeyError, TypeError, ValueError):
        raise BadRecord("schema: received_at must be an ISO 8601 instant") from None
    if received_at.tzinfo is None:
        raise BadRecord("schema: received_at must carry its offset")
    answer = raw.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise BadRecord("schema: answer must be text")
    return Record(
        name=name,
        endpoint=endpoint,
        form=_fields(raw.get("form"), "form"),
        args=_fields(raw.get("args", {}), "args"),
        received_at=received_at.astimezone(UTC),
        answer=answer,
    )
