"""One SMS writer at a time on SQLite, queued by the kernel rather than by SQLite's busy handler.

SQLite lets one connection write at a time; another that wants to write
retries after sleeping 1, 2, 5, 10... milliseconds, however soon the lock is
free. Under a burst of text messages, two web workers spend more time in
those sleeps than writing (measured with ``bench/intake.sh``: two workers did
fewer requests than one). A blocking ``flock`` on a file beside the database
wakes the next writer the moment the previous one commits. On PostgreSQL,
which has row locks, this is a no-op.

A Twilio webhook must answer within seconds even when another process holds
the lock for long (a migration, a stuck writer): inside ``bounded(seconds)``
the turn is waited for until that deadline and no longer (``WriteTurnTimeout``),
and so is SQLite's own busy handler on every connection checked out
meanwhile; the webhook then spools the request (``hotline.intake.spool``).
"""

import fcntl
import os
import signal
import sqlite3
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.pool import Pool

#: SQLite's busy timeout outside a bounded webhook: how long a writer waits for the lock.
SQLITE_BUSY_MS = 10_000
#: The first and the longest pause between two tries of a bounded turn (seconds).
_POLL_FIRST, _POLL_MAX = 0.0001, 0.002

_deadline: ContextVar[float | None] = ContextVar("hotline_database_deadline", default=None)


class WriteTurnTimeout(Exception):
    """The write turn was not free before the request's deadline."""


@contextmanager
def bounded(seconds: float):
    """Within this block, waits for the write turn and SQLite's lock end ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current block's deadline; None outside ``bounded``."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@event.listens_for(Pool, "checkout")
def _bounded_busy_timeout(dbapi_connection, connection_record, connection_proxy):
    """SQLite's busy timeout of a connection handed out: what is left of the deadline, else the default."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    left = remaining()
    # Rounded down to 100 ms: never past the deadline, and the same value request after request, so the
    # PRAGMA runs when it changes rather than on every webhook's checkout (the SMS hot path).
    busy_ms = SQLITE_BUSY_MS if left is None else max(1, int(left * 10) * 100)
    if connection_record.info.get("busy_ms") != busy_ms:
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")
        connection_record.info["busy_ms"] = busy_ms


class WriteTurn:
    """``with turn():`` holds the write turn for a short transaction on the SQLite file ``database_path``."""

    def __init__(self, database_path: str | None):
        self.path = f"{database_path}.writelock" if database_path else None
        self._fd: int | None = None
        self._pid: int | None = None
        # flock excludes other processes; threads of this one share the descriptor, so they queue here.
        self._threads = threading.Lock()

    def _descriptor(self) -> int:
        # A descriptor inherited across fork would be shared by the workers and exclude nobody.
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def __call__(self):
        if self.path is None:
            yield
            return
        deadline = _deadline.get()
        if deadline is None:
            with self._threads:
                fd = self._descriptor()
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            return
        if not self._threads.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise WriteTurnTimeout("another thread of this process held the write turn too long")
        try:
            fd = self._descriptor()
            self._lock_before(fd, deadline)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @staticmethod
    def _lock_before(fd: int, deadline: float) -> None:
        """Take the file lock before ``deadline``.

        Free: taken at once. Held by another worker: on the main thread (a gunicorn sync worker), a
        blocking ``flock`` that a timer signal interrupts at the deadline, so the next writer still
        wakes the moment the lock is free; waking by polling instead halved the webhook's throughput
        under a burst (``bench/intake.sh``). Elsewhere (threads of the development server), short pauses.
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if threading.current_thread() is threading.main_thread():
            _block_until(fd, deadline)
            return
        pause = _POLL_FIRST
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriteTurnTimeout("another process held SQLite's write turn too long")
            time.sleep(min(pause, left))
            pause = min(pause * 2, _POLL_MAX)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                continue


def _block_until(fd: int, deadline: float) -> None:
    """A blocking ``flock`` that ``SIGALRM`` interrupts at ``deadline`` (main thread only)."""

    def expired(signum, frame):
        raise WriteTurnTimeout("another process held SQLite's write turn too long")

    left = deadline - time.monotonic()
    if left <= 0:
        raise WriteTurnTimeout("another process held SQLite's write turn too long")
    previous = signal.signal(signal.SIGALRM, expired)
    try:
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except WriteTurnTimeout:
        fcntl.flock(fd, fcntl.LOCK_UN)  # the timer may have fired just after the lock was taken
        raise
    finally:
        signal.signal(signal.SIGALRM, previous)


def sqlite_path(uri: str) -> str | None:
    """The file of a ``sqlite:///`` URI; None for any other database (or SQLite in memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return path if path and path != ":memory:" else None
