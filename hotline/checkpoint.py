"""SQLite's WAL checkpoints, kept off the request path.

In WAL mode every commit appends the pages it changed to the ``-wal`` file;
SQLite copies them back into the database (a checkpoint) when a committing
connection finds the WAL longer than ``wal_autocheckpoint`` pages. That copy
then runs inside whichever request committed last: measured with
``bench/intake.sh``, it held that request and the ones queued behind it for
tens of milliseconds, a few times a second under a burst of text messages.
And a long WAL slows every read, which looks each page up in the WAL first.

So each web process runs a PASSIVE checkpoint every
``SQLITE_CHECKPOINT_SECONDS`` on a daemon thread: a passive checkpoint neither
waits for nor blocks readers and writers, and SQLite copies with the GIL
released. ``wal_autocheckpoint`` stays as the safety net for processes without
the thread (CLI commands, the scheduler) and for a thread that falls behind.
On PostgreSQL none of this applies.
"""

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)


class Checkpointer:
    """A process's background checkpoints of the SQLite file ``path``, started by ``ensure_running``."""

    def __init__(self, path: str, interval: float):
        self.path = path
        self.interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._connection: sqlite3.Connection | None = None

    def ensure_running(self) -> None:
        """Start the thread in this process unless it runs already (cheap: called on every request).

        A thread started before a fork does not exist in the child, hence the process id.
        """
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._connection = None  # a connection inherited across fork must not be used
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pid = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def checkpoint(self) -> tuple[int, int, int] | None:
        """One passive checkpoint: (busy, WAL pages, pages copied), as SQLite reports it; None without a file yet."""
        if self._connection is None:
            try:
                # mode=rw: never create the database file (before `init-db` there is none to keep).
                self._connection = sqlite3.connect(
                    f"file:{self.path}?mode=rw", uri=True, timeout=0, isolation_level=None, check_same_thread=False
                )
            except sqlite3.OperationalError:
                return None
        return tuple(self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except sqlite3.Error as exc:  # busy or locked: the next turn copies what this one could not
                log.debug("WAL checkpoint skipped: %s", exc)
