"""``flask hotline backup PATH`` and ``restore PATH``: a round trip into a scratch database, on the suite's backend.

The backup is taken of the suite's database; every restore goes into a
database of its own (a file, or a PostgreSQL database created and dropped
here), never into the suite's.
"""

import os
import re
import sqlite3
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, inspect, text

from hotline import create_app
from hotline.escalation.sweep import beat
from hotline.extensions import db
from hotline.ops.backup import pg_tool
from hotline.tickets import service
from hotline.timeutil import utcnow
from tests.conftest import CommandScopedRunner, _postgres_database, app_config
from tests.helpers import log_call

POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
TIMELINE = text(
    "SELECT e.kind, e.actor_id, e.at, e.payload FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id "
    "WHERE t.number = :number ORDER BY e.id"
)


@pytest.fixture
def scratch(tmp_path):
    """An application on an empty database of its own (never the suite's), its instance folder in tmp_path."""
    base = os.environ.get("TEST_DATABASE_URL")
    databases = _postgres_database(base) if base else iter([f"sqlite:///{tmp_path / 'scratch.sqlite3'}"])
    url = next(databases)
    application = create_app(app_config(url) | {"SPOOL_DIR": str(tmp_path / "scratch-spool")})
    application.instance_path = str(tmp_path / "scratch-instance")
    application.test_cli_runner_class = CommandScopedRunner
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        if base:
            databases.close()  # drops it


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.scalar(text(f'SELECT count(*) FROM "{name}"'))  # noqa: S608  (names from the schema)
                for name in sorted(inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()


def timeline(url: str, number: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(TIMELINE, {"number": number})]
    finally:
        engine.dispose()


@pytest.fixture
def history(app, make_user, make_department, now):
    """Two tickets with a few events, users, a department and audit entries in the suite's database."""
    make_department()
    operator = make_user()
    make_user(role="manager")
    ticket = log_call(operator, now)
    service.add_note(ticket, actor=operator, now=now + timedelta(minutes=5), text="已联系民政局，等待回复")
    service.resolve_directly(ticket, actor=operator, now=now + timedelta(minutes=9), answer="告知临时救助申请流程")
    log_call(operator, now + timedelta(hours=1), phone="13900001111", summary="老人独居无人照顾")
    db.session.commit()
    return ticket.number


def test_a_backup_restored_into_another_database_has_every_row_and_the_same_timeline(
    app, runner, scratch, history, tmp_path
):
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    target_url = scratch.config["SQLALCHEMY_DATABASE_URI"]
    assert target_url != source_url
    path = tmp_path / "nightly.backup"

    made = runner.invoke(args=["hotline", "backup", str(path)])
    assert made.exit_code == 0, made.output
    assert f"written to {path}" in made.output
    assert path.stat().st_mode & 0o777 == 0o600

    restored = scratch.test_cli_runner().invoke(args=["hotline", "restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert f"restored from {path}" in restored.output

    before = row_counts(source_url)
    assert before["ticket"] == 2 and before["ticket_event"] >= 4
    assert row_counts(target_url) == before
    events = timeline(source_url, history)
    assert [kind for kind, *_ in events][-2:] == ["note", "resolved_directly"]
    assert timeline(target_url, history) == events
    assert row_counts(source_url) == before  # the backup changed nothing where it was taken


def test_a_restore_replaces_what_the_database_holds_and_keeps_a_copy_of_it(app, runner, scratch, history, tmp_path):
    path = tmp_path / "hotline.backup"
    assert runner.invoke(args=["hotline", "backup", str(path)]).exit_code == 0
    restore = scratch.test_cli_runner()
    assert restore.invoke(args=["hotline", "restore", str(path), "--yes", "--no-safety-copy"]).exit_code == 0
    target_url = scratch.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(target_url)
    with engine.begin() as connection:  # the scratch database goes on living after the backup
        connection.execute(text("UPDATE department SET name = '改过的名字'"))
        connection.execute(
            text(
                "INSERT INTO department (code, name, kind, level, active) "
                "VALUES ('township9', '新建乡', 'township', 'township', true)"
            )
        )
    engine.dispose()
    assert row_counts(target_url)["department"] == 2

    again = restore.invoke(args=["hotline", "restore", str(path), "--yes"])
    assert again.exit_code == 0, again.output
    assert row_counts(target_url) == row_counts(app.config["SQLALCHEMY_DATABASE_URI"])
    engine = create_engine(target_url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT name FROM department")) == "县民政局"
    engine.dispose()
    [copy] = (tmp_path / "scratch-instance" / "backups").iterdir()
    assert f"the database it replaces was saved to {copy}" in again.output
    assert copy.read_bytes().startswith(b"PGDMP" if POSTGRES else b"SQLite format 3\x00")


def test_a_restore_asks_first_and_changes_nothing_when_refused(app, runner, scratch, history, tmp_path):
    path = tmp_path / "hotline.backup"
    assert runner.invoke(args=["hotline", "backup", str(path)]).exit_code == 0
    refused = scratch.test_cli_runner().invoke(args=["hotline", "restore", str(path)], input="n\n")
    assert refused.exit_code == 1
    assert "Replace every table of" in refused.output and "Aborted" in refused.output
    assert "the scheduler ran" not in refused.output  # nothing runs on an empty database
    assert row_counts(scratch.config["SQLALCHEMY_DATABASE_URI"]) == {}
    assert not (tmp_path / "scratch-instance" / "backups").exists()


def test_a_restore_reminds_to_stop_a_scheduler_that_is_running(runner, scratch, history, tmp_path):
    path = tmp_path / "hotline.backup"
    assert runner.invoke(args=["hotline", "backup", str(path)]).exit_code == 0
    restore = scratch.test_cli_runner()
    assert restore.invoke(args=["hotline", "restore", str(path), "--yes", "--no-safety-copy"]).exit_code == 0
    with scratch.app_context():  # a scheduler still runs on the scratch database
        beat("scheduler", now=utcnow() - timedelta(seconds=20))
        db.session.commit()
        db.session.remove()
    refused = restore.invoke(args=["hotline", "restore", str(path)], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert re.search(r"the scheduler ran 2\d s ago: stop it and the web server first", refused.output)


def test_a_file_that_is_no_backup_is_refused_before_anything_changes(scratch, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    result = scratch.test_cli_runner().invoke(args=["hotline", "restore", str(junk), "--yes"])
    assert result.exit_code == 1
    assert "neither an SQLite database nor a pg_dump custom-format file" in result.output

    other = tmp_path / "other.backup"  # a backup for the other kind of database
    if POSTGRES:
        sqlite3.connect(other).execute("CREATE TABLE alembic_version (version_num TEXT)")
    else:
        other.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(100))
    result = scratch.test_cli_runner().invoke(args=["hotline", "restore", str(other), "--yes"])
    assert result.exit_code == 1
    expected = (
        "is a sqlite backup; this application's database is postgresql"
        if POSTGRES
        else ("is a postgresql backup; this application's database is sqlite")
    )
    assert expected in result.output
    assert row_counts(scratch.config["SQLALCHEMY_DATABASE_URI"]) == {}


def test_a_database_that_is_not_the_hotlines_is_refused(scratch, tmp_path):
    stranger = tmp_path / "stranger.sqlite3"
    sqlite3.connect(stranger).execute("CREATE TABLE t (x)")
    if POSTGRES:
        return  # the kind check above refuses it first on PostgreSQL
    result = scratch.test_cli_runner().invoke(args=["hotline", "restore", str(stranger), "--yes"])
    assert result.exit_code == 1 and "is not a hotline backup" in result.output


def test_a_backup_does_not_overwrite_a_file_unless_told_and_names_its_file_in_a_folder(runner, history, tmp_path):
    path = tmp_path / "taken.backup"
    path.write_text("yesterday's")
    refused = runner.invoke(args=["hotline", "backup", str(path)])
    assert refused.exit_code == 1 and "exists" in refused.output
    assert path.read_text() == "yesterday's"
    assert runner.invoke(args=["hotline", "backup", str(path), "--yes"]).exit_code == 0
    assert path.read_bytes()[:5] in (b"PGDMP", b"SQLit")

    folder = tmp_path / "backups"
    folder.mkdir()
    assert runner.invoke(args=["hotline", "backup", str(folder)]).exit_code == 0
    [made] = folder.iterdir()  # one file: no -wal or -shm beside an SQLite backup
    assert made.name.startswith("hotline-") and made.suffix == (".pgdump" if POSTGRES else ".sqlite3")


def test_a_backup_taken_while_another_transaction_writes_is_consistent(app, runner, history, tmp_path):
    """Online: the writer is neither waited for nor half copied; its uncommitted row is not in the backup."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    writer = create_engine(url)
    path = tmp_path / "online.backup"
    with writer.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("UPDATE department SET name = '写到一半'"))
        made = runner.invoke(args=["hotline", "backup", str(path)])
        transaction.rollback()
    writer.dispose()
    assert made.exit_code == 0, made.output
    if POSTGRES:
        listing = [pg_tool("pg_restore"), "--data-only", "--table=department", "--file=-", str(path)]
        dumped = subprocess.run(listing, capture_output=True, text=True, check=True, timeout=60).stdout
    else:
        dumped = "".join(sqlite3.connect(path).iterdump())
    assert "县民政局" in dumped and "写到一半" not in dumped
