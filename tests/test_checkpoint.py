"""The background WAL checkpoint of SQLite databases: off the request path, never creating a file."""

import sqlite3
import time

import pytest

from hotline import create_app
from hotline.checkpoint import Checkpointer
from tests.conftest import app_config


def _wal_database(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies
    connection.execute("CREATE TABLE t (x TEXT)")
    return connection


def _write(connection, rows: int = 200) -> None:
    connection.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * rows)


def test_one_checkpoint_copies_the_wal_into_the_database(tmp_path):
    connection = _wal_database(tmp_path / "db.sqlite3")
    _write(connection)
    checkpointer = Checkpointer(str(tmp_path / "db.sqlite3"), interval=60)
    try:
        busy, pages, copied = checkpointer.checkpoint()
        assert busy == 0 and pages > 0 and copied == pages
        # Nothing new since: nothing left to copy.
        assert checkpointer.checkpoint()[2] == checkpointer.checkpoint()[1]
    finally:
        checkpointer.stop()
        connection.close()


class RecordingCheckpointer(Checkpointer):
    """Keeps what each of the thread's checkpoints reported."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reports = []

    def checkpoint(self):
        report = super().checkpoint()
        self.reports.append(report)
        return report


def test_the_thread_checkpoints_by_itself_and_stops(tmp_path):
    path = tmp_path / "db.sqlite3"
    connection = _wal_database(path)
    checkpointer = RecordingCheckpointer(str(path), interval=0.02)
    checkpointer.ensure_running()
    thread = checkpointer._thread
    checkpointer.ensure_running()  # a second call in the same process starts nothing more
    try:
        assert checkpointer._thread is thread and thread.is_alive()
        _write(connection)
        deadline = time.monotonic() + 5  # bounded: the thread ticks every 20 ms
        while time.monotonic() < deadline and not any(r and r[2] > 0 for r in list(checkpointer.reports)):
            time.sleep(0.02)
        copied = [r for r in list(checkpointer.reports) if r and r[2] > 0]
        assert copied, "the thread copied no WAL page within 5 s"
        assert copied[0][0] == 0  # a passive checkpoint never waits: not busy with one idle writer
    finally:
        checkpointer.stop()
        connection.close()
    assert not thread.is_alive()


def test_no_file_is_created_before_the_database_exists(tmp_path):
    checkpointer = Checkpointer(str(tmp_path / "missing.sqlite3"), interval=60)
    assert checkpointer.checkpoint() is None
    assert not (tmp_path / "missing.sqlite3").exists()


@pytest.mark.parametrize(("seconds", "expected"), [(0.5, True), (0, False)])
def test_web_processes_on_a_sqlite_file_run_it_unless_switched_off(tmp_path, seconds, expected):
    config = app_config(f"sqlite:///{tmp_path / 'db.sqlite3'}") | {"SQLITE_CHECKPOINT_SECONDS": seconds}
    app = create_app(config)
    checkpointer = app.extensions.get("sqlite_checkpoint")
    assert (checkpointer is not None) is expected
    if checkpointer is None:
        return
    try:
        assert checkpointer.interval == seconds
        app.test_client().get("/login")
        assert checkpointer._thread is not None and checkpointer._thread.is_alive()
    finally:
        checkpointer.stop()


def test_postgresql_has_no_checkpointer():
    app = create_app(
        app_config("postgresql+psycopg://postgres@127.0.0.1:5432/unused") | {"SQLITE_CHECKPOINT_SECONDS": 1}
    )
    assert "sqlite_checkpoint" not in app.extensions


def test_a_new_database_has_the_small_pages_and_an_old_one_keeps_its_own(tmp_path):
    """Every connection the application opens sets WAL; a database it creates gets ``SQLITE_PAGE_SIZE`` pages
    (the SMS webhook reads and writes fewer bytes), one made before keeps its page size."""
    from sqlalchemy import create_engine, text

    from hotline import SQLITE_PAGE_SIZE

    old = sqlite3.connect(tmp_path / "old.sqlite3")
    old.execute("CREATE TABLE t (x TEXT)")
    old.commit()
    old.close()
    for name, expected in (("new.sqlite3", SQLITE_PAGE_SIZE), ("old.sqlite3", 4096)):
        engine = create_engine(f"sqlite:///{tmp_path / name}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
            assert connection.execute(text("PRAGMA page_size")).scalar() == expected, name
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        engine.dispose()
