"""``flask hotline check``: each check of the doctor with a case that trips it and one that passes."""

import json
import os
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from hotline import create_app
from hotline.admin.calendar import save_year
from hotline.escalation.calendar import PACKAGE_YEARS
from hotline.escalation.sla import calendar_changed
from hotline.escalation.sweep import beat
from hotline.extensions import db, migrate
from hotline.intake import intake
from hotline.ops import doctor
from hotline.ops.doctor import FAIL, OK, WARN
from tests.conftest import _postgres_database, app_config


def status(check, app, now):
    finding = check(app, now)
    return finding.status, finding.message


# --- secret key ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["CHANGE-ME", "test-secret", "dev", "a1b2c3d4"])
def test_a_placeholder_or_short_secret_key_fails(app, now, key):
    app.config["SECRET_KEY"] = key
    result, message = status(doctor.check_secret_key, app, now)
    assert result == FAIL
    assert "HOTLINE_SECRET_KEY" in message and "secrets.token_hex(32)" in message


def test_the_key_the_server_generated_is_a_warning_for_several_nodes(app, now, tmp_path):
    key = secrets.token_hex(32)
    app.instance_path = str(tmp_path)
    (tmp_path / "secret_key").write_text(key + "\n")
    app.config["SECRET_KEY"] = key
    result, message = status(doctor.check_secret_key, app, now)
    assert result == WARN
    assert str(tmp_path / "secret_key") in message and "HOTLINE_SECRET_KEY" in message


def test_a_long_random_secret_key_passes(app, now, tmp_path):
    app.instance_path = str(tmp_path)
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    assert status(doctor.check_secret_key, app, now)[0] == OK


# --- database, public URL, cookies, proxy, Twilio -------------------------------------------------


def test_sqlite_fails_and_postgresql_passes(app, now):
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////srv/hotline.sqlite3"
    result, message = status(doctor.check_database, app, now)
    assert result == FAIL and "SQLite" in message and "PostgreSQL" in message
    app.config["SQLALCHEMY_DATABASE_URI"] = "mysql://hotline@db/hotline"
    assert status(doctor.check_database, app, now)[0] == FAIL
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://hotline:pw@127.0.0.1/hotline"
    assert status(doctor.check_database, app, now)[0] == OK


@pytest.mark.parametrize("url", ["http://hotline.example.cn", "", "https://127.0.0.1:5000", "https://localhost"])
def test_a_public_url_twilio_cannot_use_fails(app, now, url):
    app.config["PUBLIC_BASE_URL"] = url
    result, message = status(doctor.check_public_url, app, now)
    assert result == FAIL and "HOTLINE_PUBLIC_BASE_URL" in message


def test_an_https_public_url_passes(app, now):
    app.config["PUBLIC_BASE_URL"] = "https://hotline.example.cn"
    assert status(doctor.check_public_url, app, now) == (OK, "公网地址：https://hotline.example.cn")


def test_cookies_without_secure_fail(app, now):
    app.config["SESSION_COOKIE_SECURE"] = False
    result, message = status(doctor.check_secure_cookies, app, now)
    assert result == FAIL and "HOTLINE_SECURE_COOKIES=1" in message
    app.config["SESSION_COOKIE_SECURE"] = True
    assert status(doctor.check_secure_cookies, app, now)[0] == OK


def test_no_trusted_proxy_is_a_warning(app, now):
    app.config["PROXY_HOPS"] = 0
    result, message = status(doctor.check_proxy_hops, app, now)
    assert result == WARN and "HOTLINE_PROXY_HOPS" in message
    app.config["PROXY_HOPS"] = 1
    assert status(doctor.check_proxy_hops, app, now)[0] == OK


def test_missing_twilio_credentials_fail_and_are_named(app, now):
    app.config.update(TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN="token", TWILIO_NUMBER="")
    result, message = status(doctor.check_twilio, app, now)
    assert result == FAIL
    assert "TWILIO_ACCOUNT_SID" in message and "HOTLINE_TWILIO_NUMBER" in message
    assert "TWILIO_AUTH_TOKEN" not in message
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_NUMBER="+15005550006")
    assert status(doctor.check_twilio, app, now)[0] == OK


# --- scheduler heartbeat ---------------------------------------------------------------------


def test_a_scheduler_that_never_ran_fails(app, now):
    result, message = status(doctor.check_scheduler, app, now)
    assert result == FAIL and "hotline-scheduler" in message


def test_a_stale_sweep_heartbeat_fails_and_a_fresh_one_passes(app, now):
    limit = 3 * app.config["SWEEP_SECONDS"]
    beat("sweep", now=now - timedelta(seconds=limit + 5))
    db.session.commit()
    result, message = status(doctor.check_scheduler, app, now)
    assert result == FAIL and f"{limit + 5} " in message
    beat("sweep", now=now - timedelta(seconds=10))
    db.session.commit()
    assert status(doctor.check_scheduler, app, now)[0] == OK


# --- intake spool ----------------------------------------------------------------------------


def test_a_record_waiting_in_the_spool_fails(app, now):
    spool = intake().spool
    assert status(doctor.check_spool, app, now)[0] == OK
    spool.write("sms", key="SM1", form={"MessageSid": ["SM1"]}, args={}, received_at=now - timedelta(seconds=90))
    result, message = status(doctor.check_spool, app, now)
    assert result == FAIL
    assert "1 " in message and "90" in message and "spool replay" in message


def test_a_quarantined_record_is_a_warning(app, now):
    spool = intake().spool
    spool.quarantine_dir.mkdir(parents=True)
    (spool.quarantine_dir / "00000000000000001-abc-def.json").write_text("{}")
    result, message = status(doctor.check_spool, app, now)
    assert result == WARN and "1 " in message


# --- working calendar ------------------------------------------------------------------------


def _local_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def test_a_coming_year_nobody_loaded_fails(app):
    last_known = max(PACKAGE_YEARS)
    result, message = status(doctor.check_calendar, app, _local_noon(date(last_known, 12, 4)))
    assert result == FAIL
    assert str(last_known + 1) in message and "/admin/calendar" in message


def test_the_calendar_passes_when_the_coming_year_is_known_or_not_due(app, now, make_user):
    last_known = max(PACKAGE_YEARS)
    assert status(doctor.check_calendar, app, _local_noon(date(last_known, 10, 1)))[0] == OK  # not due yet
    admin = make_user(role="admin")
    save_year(
        actor=admin,
        now=now,
        year=last_known + 1,
        source="国办发明电〔2026〕号",
        text=f"{last_known + 1}-01-01 元旦",
        expected_updated_at=None,
    )
    db.session.commit()
    calendar_changed()
    result, message = status(doctor.check_calendar, app, _local_noon(date(last_known, 12, 4)))
    assert result == OK and str(last_known + 1) in message


# --- migrations --------------------------------------------------------------------------------


def test_the_migrated_test_database_passes(app, now):
    result, message = status(doctor.check_migrations, app, now)
    assert result == OK and all(head in message for head in code_heads())


def code_heads() -> list[str]:
    return ScriptDirectory.from_config(migrate.get_config()).get_heads()


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database on the suite's backend, never the suite's own."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    databases = _postgres_database(base)
    try:
        yield next(databases)
    finally:
        databases.close()


def _check_migrations_on(url: str, revision: str | None, now) -> tuple[str, str]:
    engine = create_engine(url)
    if revision:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
            connection.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    engine.dispose()
    scratch = create_app(app_config(url))
    with scratch.app_context():
        try:
            return status(doctor.check_migrations, scratch, now)
        finally:
            db.engine.dispose()


def test_a_database_without_schema_fails(scratch_url, now):
    result, message = _check_migrations_on(scratch_url, None, now)
    assert result == FAIL and "init-db" in message


def test_a_database_behind_the_code_fails(app, scratch_url, now):
    result, message = _check_migrations_on(scratch_url, "0001_initial", now)
    assert result == FAIL
    assert "0001_initial" in message and "init-db" in message
    assert all(head in message for head in code_heads())


def test_a_database_ahead_of_the_code_fails(scratch_url, now):
    result, message = _check_migrations_on(scratch_url, "0099_from_the_future", now)
    assert result == FAIL and "0099_from_the_future" in message


# --- the command ------------------------------------------------------------------------------


def test_the_command_prints_every_check_in_chinese_and_exits_1_on_a_failure(runner):
    result = runner.invoke(args=["hotline", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for check in ("secret_key", "database", "public_url", "secure_cookies", "twilio", "migrations", "calendar"):
        assert any(check in line for line in lines), check
    assert "[FAIL] public_url: HOTLINE_PUBLIC_BASE_URL 为 http://hotline.test" in result.output
    assert "[OK  ] migrations: 所有迁移均已应用" in result.output
    assert lines[-1].endswith("项警告。") and "项失败" in lines[-1]


def test_the_command_exits_0_when_nothing_failed(app, runner, monkeypatch):
    monkeypatch.setattr(doctor, "CHECKS", (doctor.check_secure_cookies, doctor.check_proxy_hops))
    app.config["SESSION_COOKIE_SECURE"] = True
    result = runner.invoke(args=["hotline", "check"])
    assert result.exit_code == 0, result.output  # a warning (proxy hops) is not a failure
    assert "[WARN] proxy_hops" in result.output and "0 项失败，1 项警告。" in result.output


def test_the_command_prints_json(runner):
    result = runner.invoke(args=["hotline", "check", "--json"])
    assert result.exit_code == 1
    findings = json.loads(result.output)
    assert [f["check"] for f in findings] == [c.__name__.removeprefix("check_") for c in doctor.CHECKS]
    assert {f["status"] for f in findings} <= {OK, WARN, FAIL}
    assert next(f for f in findings if f["check"] == "database")["status"] == (
        OK if os.environ.get("TEST_DATABASE_URL") else FAIL
    )


def test_a_check_that_breaks_is_a_failure_and_the_others_still_run(app, now):
    def check_broken(app, now):
        raise RuntimeError("connection refused\nmore detail")

    findings = doctor.run_checks(app, now, [check_broken, doctor.check_secure_cookies])
    assert [(f.check, f.status) for f in findings] == [("broken", FAIL), ("secure_cookies", FAIL)]
    assert findings[0].message == "无法检查：RuntimeError: connection refused"
