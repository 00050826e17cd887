"""``flask --app app hotline check``: what is wrong for production, one line per check.

Each check is a small function of the application's settings, its database and
``now`` that returns a :class:`Finding`: ``ok``, ``warn`` (allowed, but know
why) or ``fail`` (wrong for production). The command prints every finding in
the default language (Chinese unless ``HOTLINE_DEFAULT_LOCALE`` says
otherwise) and exits 1 when one of them failed, so a deployment script or a
monitoring job can run it. ``--json`` prints the same findings as JSON.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from hotline.extensions import db, migrate
from hotline.timeutil import utcnow

OK, WARN, FAIL = "ok", "warn", "fail"
#: Secret keys that are no secret: the example environment file's placeholder, the test suite's, and the usual ones.
KNOWN_SECRET_KEYS = frozenset({"CHANGE-ME", "change-me", "changeme", "secret", "dev", "test-secret", "hotline"})
MIN_SECRET_KEY_LENGTH = 32
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104  (addresses compared, not bound)


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    message: str


def check_secret_key(app, now: datetime) -> Finding:
    """A placeholder or short key fails; a key the app generated in ``instance/secret_key`` is one node's only."""
    key = app.config.get("SECRET_KEY") or ""
    if key in KNOWN_SECRET_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        return Finding(
            "secret_key",
            FAIL,
            _(
                "HOTLINE_SECRET_KEY is a placeholder or shorter than %(n)s characters: anyone who knows it can "
                "forge sessions. Set it to the output of `python3 -c 'import secrets; print(secrets.token_hex(32))'`.",
                n=MIN_SECRET_KEY_LENGTH,
            ),
        )
    generated = Path(app.instance_path) / "secret_key"
    if generated.exists() and generated.read_text().strip() == key:
        return Finding(
            "secret_key",
            WARN,
            _(
                "The secret key is the one this server generated in %(path)s: enough for one web server; with "
                "several, set the same HOTLINE_SECRET_KEY on each or their sessions are not valid on the others.",
                path=str(generated),
            ),
        )
    return Finding("secret_key", OK, _("The secret key is set."))


def check_database(app, now: datetime) -> Finding:
    """SQLite is for one machine and development; production runs on PostgreSQL."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        return Finding(
            "database",
            FAIL,
            _(
                "The database is SQLite (%(uri)s): production runs on PostgreSQL "
                "(HOTLINE_DATABASE_URL=postgresql+psycopg://...).",
                uri=uri,
            ),
        )
    if not uri.startswith("postgresql"):
        return Finding("database", FAIL, _("Unsupported database URL: use PostgreSQL."))
    return Finding("database", OK, _("The database is PostgreSQL."))


def check_public_url(app, now: datetime) -> Finding:
    """Twilio calls this URL and signs it: it must be https and reachable from the internet."""
    url = app.config.get("PUBLIC_BASE_URL") or ""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return Finding(
            "public_url",
            FAIL,
            _(
                "HOTLINE_PUBLIC_BASE_URL is %(url)s: it must start with https://, the address Twilio calls "
                "through the reverse proxy.",
                url=url or "-",
            ),
        )
    if (parts.hostname or "") in LOCAL_HOSTS:
        return Finding(
            "public_url",
            FAIL,
            _("HOTLINE_PUBLIC_BASE_URL is %(url)s: Twilio cannot reach this machine's own address.", url=url),
        )
    return Finding("public_url", OK, _("Public URL: %(url)s", url=url))


def check_secure_cookies(app, now: datetime) -> Finding:
    if not app.config.get("SESSION_COOKIE_SECURE"):
        return Finding(
            "secure_cookies",
            FAIL,
            _("Cookies are sent without Secure: set HOTLINE_SECURE_COOKIES=1 behind HTTPS (this also turns on HSTS)."),
        )
    return Finding("secure_cookies", OK, _("Cookies are sent over HTTPS only."))


def check_proxy_hops(app, now: datetime) -> Finding:
    """Behind nginx the client address is in X-Forwarded-For; without PROXY_HOPS every login shares nginx's."""
    if app.config.get("PROXY_HOPS", 0) < 1:
        return Finding(
            "proxy_hops",
            WARN,
            _(
                "HOTLINE_PROXY_HOPS is 0: behind the nginx of the deployment guide set it to 1, or every client "
                "has the proxy's address (login limits, audit log)."
            ),
        )
    return Finding(
        "proxy_hops", OK, _("Client addresses are taken from %(n)s trusted proxies.", n=app.config["PROXY_HOPS"])
    )


def check_twilio(app, now: datetime) -> Finding:
    missing = [
        name
        for name, key in (
            ("TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID"),
            ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"),
            ("HOTLINE_TWILIO_NUMBER", "TWILIO_NUMBER"),
        )
        if not app.config.get(key)
    ]
    if missing:
        return Finding(
            "twilio",
            FAIL,
            _(
                "Twilio credentials missing: %(names)s. Without them webhooks are refused and no SMS is sent.",
                names=", ".join(missing),
            ),
        )
    return Finding("twilio", OK, _("Twilio credentials are set."))


def check_scheduler(app, now: datetime) -> Finding:
    """The sweep's heartbeat: stale past three sweep intervals, as the managers' warning says."""
    from hotline.escalation.views import scheduler_health

    health = scheduler_health(now)
    age = health["ages"]["sweep"]
    if age is None:
        return Finding(
            "scheduler",
            FAIL,
            _(
                "The scheduler has never run: start the hotline-scheduler service "
                "(`flask --app app hotline scheduler`)."
            ),
        )
    if health["stale"]:
        return Finding(
            "scheduler",
            FAIL,
            _(
                "The scheduler's last sweep was %(seconds)s s ago (limit %(limit)s s): deadlines are not escalated "
                "and SMS are not sent. Check the hotline-scheduler service.",
                seconds=int(age),
                limit=health["limit_seconds"],
            ),
        )
    return Finding("scheduler", OK, _("The scheduler swept %(seconds)s s ago.", seconds=int(age)))


def check_spool(app, now: datetime) -> Finding:
    """Calls and texts kept while the database was away must have been stored; quarantined ones need a look."""
    from hotline.intake import intake

    spool = intake().spool
    stats = spool.stats(now)
    if stats["count"]:
        return Finding(
            "spool",
            FAIL,
            _(
                "%(count)s calls or texts wait in the intake spool %(folder)s (the oldest for %(seconds)s s): "
                "check the database and the scheduler, or run `flask --app app hotline spool replay`.",
                count=stats["count"],
                folder=str(spool.root),
                seconds=stats["oldest_age_seconds"],
            ),
        )
    if stats["quarantined"]:
        return Finding(
            "spool",
            WARN,
            _(
                "%(count)s records of the intake spool are quarantined (they could not be replayed): "
                "an admin reviews them under Spool.",
                count=stats["quarantined"],
            ),
        )
    return Finding("spool", OK, _("The intake spool is empty."))


def check_calendar(app, now: datetime) -> Finding:
    """This year's and, from ``announce_days_ahead`` before it, next year's holiday notice must be known."""
    from hotline.escalation.calendar import years_to_announce
    from hotline.escalation.sla import working_calendar
    from hotline.timeutil import local_date

    calendar = working_calendar()
    today = local_date(now)
    if missing := years_to_announce(calendar, today):
        return Finding(
            "calendar",
            FAIL,
            _(
                "The working calendar for %(years)s is not loaded: P2/P3 deadlines count Monday to Friday. "
                "An admin enters the State Council holiday notice at /admin/calendar.",
                years=", ".join(map(str, missing)),
            ),
        )
    known = [year for year in (today.year, today.year + 1) if calendar.knows_year(year)]
    return Finding("calendar", OK, _("The working calendar knows %(years)s.", years=", ".join(map(str, known))))


def check_migrations(app, now: datetime) -> Finding:
    """The database's Alembic heads are the code's: every migration applied, none unknown to this code."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.get_config())
    expected = set(script.get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if not current:
        return Finding("migrations", FAIL, _("The database has no schema: run `flask --app app hotline init-db`."))
    if current == expected:
        return Finding("migrations", OK, _("Every migration is applied (%(heads)s).", heads=", ".join(sorted(current))))
    known = {revision.revision for revision in script.walk_revisions()}
    if unknown := current - known:
        return Finding(
            "migrations",
            FAIL,
            _(
                "The database is at %(revisions)s, which this code does not know: it was migrated by a newer "
                "version. Deploy that version.",
                revisions=", ".join(sorted(unknown)),
            ),
        )
    return Finding(
        "migrations",
        FAIL,
        _(
            "Migrations not applied: the database is at %(current)s, the code at %(expected)s. "
            "Run `flask --app app hotline init-db`.",
            current=", ".join(sorted(current)),
            expected=", ".join(sorted(expected)),
        ),
    )


Check = Callable[..., Finding]
#: In the order they are printed: settings first, then what needs the database.
CHECKS: tuple[Check, ...] = (
    check_secret_key,
    check_database,
    check_public_url,
    check_secure_cookies,
    check_proxy_hops,
    check_twilio,
    check_migrations,
    check_scheduler,
    check_spool,
    check_calendar,
)


def run_checks(app, now: datetime, checks=None) -> list[Finding]:
    """Every check's finding; a check that raised (the database unreachable, say) is a failure naming the error."""
    findings = []
    for check in checks if checks is not None else CHECKS:
        try:
            findings.append(check(app, now))
        except Exception as exc:  # the doctor reports; it never stops at the first broken thing
            db.session.rollback()
            name = check.__name__.removeprefix("check_")
            first_line = (str(exc).splitlines() or [""])[0]
            findings.append(
                Finding(
                    name,
                    FAIL,
                    _(
                        "Could not check: %(error)s",
                        error=f"{type(exc).__name__}: {first_line}"[:300],
                    ),
                )
            )
    return findings


LABELS = {OK: "OK  ", WARN: "WARN", FAIL: "FAIL"}


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@with_appcontext
def check_command(as_json: bool):
    """Check this installation for production: settings, scheduler, spool, calendar, migrations. Exit 1 on a failure."""
    findings = run_checks(current_app, utcnow())
    failed = sum(f.status == FAIL for f in findings)
    warned = sum(f.status == WARN for f in findings)
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            click.echo(f"[{LABELS[finding.status]}] {finding.check}: {finding.message}")
        click.echo(_("%(failed)s failed, %(warned)s warnings.", failed=failed, warned=warned))
    if failed:
        raise SystemExit(1)
