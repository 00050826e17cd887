"""Configuration classes, read from ``HOTLINE_*`` (and ``TWILIO_*``) environment variables.

Every setting is listed with its meaning in the README's settings table.
"""

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


class Config:
    """Production-shaped defaults; every value can be overridden from the environment."""

    #: Empty means: use (or create) ``instance/secret_key``, so no key is ever hard-coded.
    SECRET_KEY = _env("HOTLINE_SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env("HOTLINE_DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'hotline.sqlite3'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    POLICY_DIR = Path(_env("HOTLINE_POLICY_DIR", str(ROOT / "config" / "policy")))
    PUBLIC_BASE_URL = (_env("HOTLINE_PUBLIC_BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/")
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
    TWILIO_NUMBER = _env("HOTLINE_TWILIO_NUMBER")
    TWILIO_TIMEOUT = _env_int("HOTLINE_TWILIO_TIMEOUT", 10)
    #: Where the outbox sender reaches Twilio's REST API (empty: Twilio's own, https://api.twilio.com);
    #: the cluster bench points it at a fake Twilio on loopback.
    TWILIO_API_BASE = (_env("HOTLINE_TWILIO_API_BASE") or "").rstrip("/") or None
    WEBHOOK_MAX_BYTES = _env_int("HOTLINE_WEBHOOK_MAX_BYTES", 32 * 1024)
    #: Where Twilio requests the database could not take wait to be replayed (empty: ``instance/spool``).
    SPOOL_DIR = _env("HOTLINE_SPOOL_DIR")
    #: Where the papers of relief cases and the photos of grid workers' reports are kept, under random names;
    #: never a folder the web server serves itself: every download goes through the access check (and, for
    #: papers, the audit).
    UPLOAD_DIR = _env("HOTLINE_UPLOAD_DIR", str(ROOT / "instance" / "uploads"))
    #: Longest a Twilio webhook waits for the database (SQLite's write lock, busy timeout) before spooling.
    WEBHOOK_DB_WAIT_SECONDS = _env_float("HOTLINE_WEBHOOK_DB_WAIT_SECONDS", 1.5)
    SMS_MAX_ATTEMPTS = _env_int("HOTLINE_SMS_MAX_ATTEMPTS", 5)
    SMS_RETRY_SECONDS = _env_int("HOTLINE_SMS_RETRY_SECONDS", 60)
    #: How long a sender's claim on a message holds before another sender may take it (it then asks
    #: Twilio first whether the message went out); never less than twice HOTLINE_TWILIO_TIMEOUT plus 5 s.
    SMS_LEASE_SECONDS = _env_int("HOTLINE_SMS_LEASE_SECONDS", 300)
    #: How often the scheduler's outbox sender looks for due text messages.
    OUTBOX_SECONDS = _env_int("HOTLINE_OUTBOX_SECONDS", 10)
    #: Each web worker replays its node's spool this often once the database answers (0: never; then a
    #: scheduler on the same node, or `flask hotline spool replay`, must).
    WEB_SPOOL_REPLAY_SECONDS = _env_float("HOTLINE_WEB_SPOOL_REPLAY_SECONDS", 5)
    DESK_POLL_SECONDS = _env_int("HOTLINE_DESK_POLL_SECONDS", 5)
    SWEEP_SECONDS = _env_int("HOTLINE_SWEEP_SECONDS", 30)
    #: SQLite only: how often each web process checkpoints the WAL in the background (0: never).
    SQLITE_CHECKPOINT_SECONDS = _env_float("HOTLINE_SQLITE_CHECKPOINT_SECONDS", 0.1)
    #: Login throttling (hotline.auth.service.Throttle): wrong passwords an account takes before each
    #: further attempt waits 2, 4, 8 ... seconds, at most LOGIN_MAX_DELAY_SECONDS.
    LOGIN_FREE_FAILURES = _env_int("HOTLINE_LOGIN_FREE_FAILURES", 5)
    LOGIN_MAX_DELAY_SECONDS = _env_int("HOTLINE_LOGIN_MAX_DELAY_SECONDS", 60)
    #: Refused logins one client address may have within LOGIN_WINDOW_MINUTES before it is refused unheard.
    LOGIN_CLIENT_MAX_FAILURES = _env_int("HOTLINE_LOGIN_CLIENT_MAX_FAILURES", 20)
    LOGIN_WINDOW_MINUTES = _env_int("HOTLINE_LOGIN_WINDOW_MINUTES", 15)
    #: Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: the socket address is the client).
    PROXY_HOPS = _env_int("HOTLINE_PROXY_HOPS", 0)
    #: A session unused this long ends; the cookie lives no longer than that past its last use.
    SESSION_IDLE_MINUTES = _env_int("HOTLINE_SESSION_IDLE_MINUTES", 480)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=SESSION_IDLE_MINUTES)
    REMEMBER_COOKIE_DURATION = PERMANENT_SESSION_LIFETIME
    PAGE_SIZE = _env_int("HOTLINE_PAGE_SIZE", 25)
    REPEAT_CALL_HOURS = _env_int("HOTLINE_REPEAT_CALL_HOURS", 72)
    BABEL_DEFAULT_LOCALE = _env("HOTLINE_DEFAULT_LOCALE", "zh_CN")
    #: The county's zone, read once by hotline.timeutil (LOCAL_TZ): times shown, ticket-number days,
    #: the working calendar and report days all use it.
    TIMEZONE = _env("HOTLINE_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "hotline" / "translations")
    LANGUAGES = ("zh_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("HOTLINE_SECURE_COOKIES", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = _env_int("HOTLINE_MAX_CONTENT_LENGTH", 1024 * 1024)
    #: The largest alert export the import page takes (10,000 alerts are about 1 MB as XLSX, 2 MB as CSV).
    ALERT_IMPORT_MAX_BYTES = _env_int("HOTLINE_ALERT_IMPORT_MAX_BYTES", 16 * 1024 * 1024)
    LOG_LEVEL = _env("HOTLINE_LOG_LEVEL", "INFO")


class TestConfig(Config):
    """Used by the test suite; the database URL is set by ``tests/conftest.py``."""

    TESTING = True
    SECRET_KEY = "test-secret"
    WTF_CSRF_ENABLED = True
    TWILIO_AUTH_TOKEN = "test-token"
    PUBLIC_BASE_URL = "http://hotline.test"
    #: Tests build many applications; the checkpoint thread has a test of its own.
    SQLITE_CHECKPOINT_SECONDS = 0
