"""One SMS writer at a time on SQLite, queued by the kernel rather than by SQLite's busy handler.

SQLite lets one connection write at a time; another that wants to write
retries after sleeping 1, 2, 5, 10... milliseconds, however soon the lock is
free. Under a burst of text messages, two web workers spend more time in
those sleeps than writing (measured with ``bench/intake.sh``: two workers did
fewer requests than one). A blocking ``flock`` on a file beside the database
wakes the next writer the moment the previous one commits. On PostgreSQL,
which has row locks, this is a no-op.
"""

import fcntl
import os
import threading
from contextlib import contextmanager


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
        with self._threads:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


def sqlite_path(uri: str) -> str | None:
    """The file of a ``sqlite:///`` URI; None for any other database (or SQLite in memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return path if path and path != ":memory:" else None
