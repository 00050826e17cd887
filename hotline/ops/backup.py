"""``flask --app app hotline backup PATH`` and ``restore PATH``: the whole database in one file.

SQLite is copied with its online backup API (``sqlite3.Connection.backup``):
the copy is one consistent state of the database even while the web workers
and the scheduler write. PostgreSQL is dumped by ``pg_dump`` in its custom
format (``-Fc``, compressed, consistent: one snapshot) and restored by
``pg_restore --clean --if-exists``. A backup is written beside its final name
and renamed into place when complete, so a file with the final name is never
half written.

A restore replaces the whole database: it asks first (``--yes`` answers for a
script), checks that the file is a backup for this kind of database before it
touches anything, keeps a copy of the database it replaces in
``instance/backups/`` (unless ``--no-safety-copy``) and says what it did. The
web server and the scheduler should be stopped while it runs.
"""

import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from hotline.extensions import db
from hotline.intake.writelock import sqlite_path
from hotline.timeutil import utcnow

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
SUFFIX = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}


class BackupError(Exception):
    """Why a backup or a restore could not be done; nothing was changed."""


@dataclass(frozen=True)
class Database:
    """The application's database as the backup sees it: its kind and where it is."""

    kind: str  # "sqlite" or "postgresql"
    path: str | None = None  # SQLite's file
    dsn: str | None = None  # libpq's URI without the password
    password: str | None = None

    def describe(self) -> str:
        return self.path if self.kind == "sqlite" else self.dsn


def database_of(uri: str) -> Database:
    if uri.startswith("sqlite"):
        path = sqlite_path(uri)
        if path is None:
            raise BackupError("an SQLite database in memory cannot be backed up")
        return Database("sqlite", path=path)
    if uri.startswith("postgresql"):
        url = make_url(uri)
        dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        return Database("postgresql", dsn=dsn, password=url.password)
    raise BackupError(f"unsupported database: {uri.split(':', 1)[0]}")


def pg_tool(name: str) -> str:
    """The newest ``pg_dump``/``pg_restore`` on the machine: Debian's versioned ones first, then the PATH."""
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    found = versions[-1] if versions else shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the postgresql-client package")
    return found


def _pg_env(database: Database) -> dict:
    env = dict(os.environ)
    if database.password:
        env["PGPASSWORD"] = database.password  # never on the command line, where ps shows it
    return env


def _run(command: list[str], database: Database) -> None:
    result = subprocess.run(command, env=_pg_env(database), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()[-2000:]}")


def target_path(path: Path, database: Database, now: datetime) -> Path:
    """``path`` itself, or, when it is a folder, a file in it named by the database kind and the UTC time."""
    if path.is_dir():
        return path / f"hotline-{now.strftime('%Y%m%dT%H%M%SZ')}{SUFFIX[database.kind]}"
    return path


def backup(database: Database, path: Path) -> Path:
    """Write one consistent copy of ``database`` to ``path`` (replaced atomically when complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # personal data: the owner's only
    try:
        if database.kind == "sqlite":
            if not Path(database.path).exists():
                raise BackupError(f"no database at {database.path}")
            source = sqlite3.connect(database.path)
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # online: one read transaction (one state); in WAL mode writers go on
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            finally:
                target.close()
                source.close()
        else:
            _run([pg_tool("pg_dump"), "--format=custom", f"--file={partial}", f"--dbname={database.dsn}"], database)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def format_of(path: Path) -> str:
    """``sqlite`` or ``postgresql`` from the file's first bytes; BackupError for anything else."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither an SQLite database nor a pg_dump custom-format file")


def verify(path: Path, database: Database) -> str:
    """Check that ``path`` is a whole hotline backup this database can take; return a one-line description."""
    kind = format_of(path)
    if kind != database.kind:
        raise BackupError(f"{path} is a {kind} backup; this application's database is {database.kind}")
    if kind == "sqlite":
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{path} is damaged: {check}")
            tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            revisions = (
                [r[0] for r in connection.execute("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a readable SQLite database: {exc}") from exc
        finally:
            connection.close()
    else:
        listing = [pg_tool("pg_restore"), "--list", str(path)]
        result = subprocess.run(listing, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BackupError(f"{path} is not a readable pg_dump archive: {result.stderr.strip()[-500:]}")
        tables = [
            line.split()[-2] for line in result.stdout.splitlines() if " TABLE " in line and "TABLE DATA" not in line
        ]
        revisions = ["?"] if "alembic_version" in tables else []
    if not revisions:
        raise BackupError(f"{path} is not a hotline backup: it has no alembic_version table")
    return f"{kind}, {len(tables)} tables, {path.stat().st_size:,} bytes"


def restore(database: Database, path: Path) -> None:
    """Replace the whole database with the backup at ``path`` (already verified)."""
    if database.kind == "sqlite":
        Path(database.path).parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(database.path, timeout=30)
        try:
            source.backup(target)  # page by page under the target's write lock: readers see before or after
        finally:
            target.close()
            source.close()
    else:
        _run(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={database.dsn}",
                str(path),
            ],
            database,
        )


def _scheduler_running() -> str | None:
    """A reminder when the scheduler beat recently: it (and the web server) should be stopped for a restore."""
    from hotline.escalation.sweep import heartbeat_age

    try:
        age = heartbeat_age("scheduler", now=utcnow())
    except Exception:  # no schema yet (a new server): nothing runs on it
        db.session.rollback()
        return None
    if age is None or age > 3 * current_app.config["SWEEP_SECONDS"]:
        return None
    return (
        f"the scheduler ran {int(age)} s ago: stop it and the web server first "
        "(systemctl stop hotline-web hotline-scheduler), or what they write during the restore is lost"
    )


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace PATH if it exists.")
@with_appcontext
def backup_command(path: Path, yes: bool):
    """Write a consistent copy of the database to PATH (a file, or a folder for a time-stamped file)."""
    try:
        database = database_of(current_app.config["SQLALCHEMY_DATABASE_URI"])
        target = target_path(path, database, utcnow())
        if target.exists() and not yes:
            raise BackupError(f"{target} exists: give another name, a folder, or --yes to replace it")
        backup(database, target)
        described = verify(target, database)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup of {database.describe()} written to {target} ({described})")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask: replace the database.")
@click.option("--safety-copy/--no-safety-copy", default=True, help="First back up the database it replaces.")
@with_appcontext
def restore_command(path: Path, yes: bool, safety_copy: bool):
    """Replace the WHOLE database with the backup at PATH. Stop the web server and the scheduler first."""
    try:
        database = database_of(current_app.config["SQLALCHEMY_DATABASE_URI"])
        described = verify(path, database)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup {path}: {described}")
    if running := _scheduler_running():
        click.echo(running)
    if not yes:
        click.confirm(
            f"Replace every table of {database.describe()} with this backup? What it holds now is lost", abort=True
        )
    db.session.remove()
    db.engine.dispose()  # no connection of this process holds a lock the restore waits for
    try:
        if safety_copy and database.kind == "sqlite" and not Path(database.path).exists():
            click.echo(f"no database at {database.path} yet: nothing to keep")
        elif safety_copy:
            folder = Path(current_app.instance_path) / "backups"
            copy = backup(
                database, folder / f"before-restore-{utcnow().strftime('%Y%m%dT%H%M%SZ')}{SUFFIX[database.kind]}"
            )
            click.echo(f"the database it replaces was saved to {copy}")
        restore(database, path)
    except BackupError as exc:
        raise click.ClickException(f"{exc} (the database is as it was)") from exc
    db.engine.dispose()
    click.echo(f"database {database.describe()} restored from {path}")
    click.echo("if the backup is older than this code, run `flask --app app hotline init-db`; then `hotline check`")
