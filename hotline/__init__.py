"""The hotline Flask application: ``create_app()`` wires config, extensions, blueprints and CLI."""

import logging
import secrets
import sqlite3
from pathlib import Path

from flask import Flask, current_app, has_request_context, redirect, render_template, request, session, url_for
from flask_babel import force_locale, get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import ROOT, Config
from hotline import labels
from hotline.access import can_import_alerts
from hotline.catalogues import compile_stale
from hotline.checkpoint import Checkpointer
from hotline.extensions import babel, csrf, db, login_manager, migrate
from hotline.formatting import iso_localtime, localtime, time_left
from hotline.intake.writelock import SQLITE_BUSY_MS, sqlite_path
from hotline.policy import catalogue, category_label, init_policy, source_label
from hotline.privacy import mask_id_number, mask_phone
from hotline.request_limits import HotlineRequest, check_whole_numbers
from hotline.security import check_request_input, set_security_headers
from models.escalation import SUPERVISED_LEVELS
from models.ticket import URGENT_PRIORITIES
from models.user import HOTLINE_ROLES


class HotlineFlask(Flask):
    """Flask, with each view's and hook's sync-or-async answer remembered.

    Flask asks ``inspect.iscoroutinefunction`` of every hook and of the view on every request (eight times
    per webhook here); none of them is a coroutine function and none changes, so the answer is kept per
    function (a coroutine function is wrapped once, as Flask would wrap it each time).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_functions: dict = {}

    def ensure_sync(self, func):
        try:
            return self._sync_functions[func]
        except KeyError:
            wrapped = self._sync_functions[func] = super().ensure_sync(func)
            return wrapped
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application. ``test_config`` overrides settings (tests pass their database URL)."""
    app = HotlineFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.from_mapping(test_config)
    app.request_class = HotlineRequest
    configure_logging(app)
    configure_secret_key(app)
    if app.config["PROXY_HOPS"] > 0:
        # The client address (login limits, audit) is then the one the last trusted proxy saw, never a
        # header the client could write itself: only the last PROXY_HOPS entries of X-Forwarded-For count.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"])
    configure_database(app)
    configure_extensions(app)
    configure_blueprints(app)
    configure_templates(app)
    configure_errors(app)
    configure_cli(app)
    return app


def configure_logging(app: Flask) -> None:
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_secret_key(app: Flask) -> None:
    """Without HOTLINE_SECRET_KEY, keep a random key in the instance folder (created once)."""
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


def configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A file has no server that could drop the connection: no ping before every request.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
        path = sqlite_path(uri)
        if path and app.config["SQLITE_CHECKPOINT_SECONDS"] > 0:
            checkpointer = Checkpointer(path, app.config["SQLITE_CHECKPOINT_SECONDS"])
            app.extensions["sqlite_checkpoint"] = checkpointer
            app.before_request(checkpointer.ensure_running)
    elif uri.startswith("postgresql"):
        # No JIT compilation: the reports' plans cost enough to trigger it, and compiling them took
        # ~2.7 s against ~0.1 s of execution (EXPLAIN ANALYZE at a million tickets, bench/reports.py).
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        connect_args = options.get("connect_args", {})
        libpq = " ".join(filter(None, [connect_args.get("options"), "-c jit=off"]))
        # A server that does not answer at all must not hold a Twilio webhook past its answer time
        # (libpq's shortest connect timeout is 2 s); the webhook then spools the request.
        connect_args = {"connect_timeout": 2, **connect_args, "options": libpq}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}


#: The page size of a new SQLite database (an existing one keeps its own until ``VACUUM``). Half SQLite's
#: default: a text message's transaction reads and writes pages of each B-tree it touches, and the other web
#: worker's commit has emptied the connection's page cache, so every page is read again; smaller pages cost
#: less to read, write to the WAL and checksum (bench/intake.sh on SQLite: 0.507 -> 0.520 of the floor, three
#: runs each, interleaved).
SQLITE_PAGE_SIZE = 2048


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys on every SQLite connection; a new database's page size."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL: fixed once the file has its header
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Web processes checkpoint in the background (hotline.checkpoint); this is the safety net, at
        # ~40 MB of WAL rather than 4 MB, because it runs inside whichever request commits.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()


def _select_locale() -> str:
    if not has_request_context():  # CLI commands and the scheduler speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return session.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]


def configure_extensions(app: Flask) -> None:
    import models  # noqa: F401  (registers every model on the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    compile_stale(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.login_message = labels.LOGIN_REQUIRED
    login_manager.login_message_category = "warning"
    init_policy(app)
    app.before_request(check_request_input)
    app.before_request(check_whole_numbers)
    app.after_request(set_security_headers)


def configure_blueprints(app: Flask) -> None:
    from hotline.admin.calendar_views import bp as admin_calendar_bp
    from hotline.admin.token_views import bp as admin_tokens_bp
    from hotline.admin.views import bp as admin_bp
    from hotline.api import init_api
    from hotline.auth.views import bp as auth_bp
    from hotline.discovery.views import bp as alerts_bp
    from hotline.escalation.views import bp as escalation_bp
    from hotline.funds.views import bp as funds_bp
    from hotline.grid import init_grid
    from hotline.intake import init_intake
    from hotline.notify import init_notify
    from hotline.referrals.views import bp as referrals_bp
    from hotline.relief.case_views import bp as casework_bp
    from hotline.relief.views import bp as relief_bp
    from hotline.reports.views import bp as reports_bp
    from hotline.tickets.views import bp as tickets_bp
    from hotline.webhooks.views import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(escalation_bp)
    app.register_blueprint(relief_bp)
    app.register_blueprint(funds_bp)
    app.register_blueprint(casework_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(admin_calendar_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(alerts_bp)
    app.register_blueprint(admin_tokens_bp)
    init_intake(app)
    init_api(app)
    init_notify(app)
    init_grid(app)

    @app.get("/")
    def index():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if current_user.role == "admin":
            return redirect(url_for("admin.users"))
        if current_user.role == "department":
            return redirect(url_for("referrals.inbox"))
        if current_user.role == "manager":  # managers own no tickets: they start where cases wait for them
            return redirect(url_for("escalation.supervision"))
        return redirect(url_for("tickets.desk"))


def configure_templates(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.globals["time_left"] = time_left
    app.jinja_env.filters["isolocal"] = iso_localtime
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_id"] = mask_id_number
    app.jinja_env.filters["category"] = category_label
    app.jinja_env.filters["source"] = source_label
    app.jinja_env.globals["can_import_alerts"] = can_import_alerts
    app.jinja_env.globals.update(
        labels=labels,
        catalogue=catalogue,
        HOTLINE_ROLES=HOTLINE_ROLES,
        SUPERVISED_LEVELS=SUPERVISED_LEVELS,
        URGENT_PRIORITIES=URGENT_PRIORITIES,
    )

    @app.context_processor
    def inject_locale():
        return {"current_locale": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])}

    @app.context_processor
    def inject_unread_notices():
        if not current_user or not current_user.is_authenticated:
            return {}
        from hotline.timeutil import utcnow
        from hotline.user_notifications import unread_count

        warnings = _manager_warnings() + _calendar_warnings(utcnow())
        return {"unread_notices": unread_count(current_user.id), "manager_warnings": warnings}


def _manager_warnings() -> list[str]:
    """What a manager must know on every page: a late scheduler, an unknown calendar year, a waiting spool."""
    if current_user.role != "manager":
        return []
    from flask_babel import gettext as _

    from hotline.escalation.views import scheduler_health
    from hotline.intake.replay import spool_warning
    from hotline.timeutil import utcnow

    warnings = []
    if late := spool_warning(utcnow()):
        warnings.append(late)
    health = scheduler_health(utcnow())
    if health["stale"]:
        age = health["ages"]["sweep"]
        warnings.append(
            _(
                "The scheduler has not swept for %(minutes)s minutes: deadlines are not being escalated.",
                minutes=int(age // 60),
            )
            if age is not None
            else _("The scheduler has never run: start it with `flask --app app hotline scheduler`.")
        )
    return warnings


def _calendar_warnings(now) -> list:
    """The years the working calendar must learn, for those whose deadlines run on it.

    From ``announce_days_ahead`` of ``calendar.toml`` (60 days) before a year that neither the admins'
    entries, ``calendar.toml`` nor the package know, and for any year a
    deadline already counted Monday to Friday: operators and managers are told
    their P2/P3 deadlines are approximate, admins get the link to enter it.
    """
    if current_user.role not in ("operator", "manager", "admin"):
        return []
    from flask_babel import gettext as _
    from markupsafe import Markup

    from hotline.escalation.calendar import years_to_announce
    from hotline.escalation.sla import working_calendar
    from hotline.timeutil import local_date

    calendar = working_calendar()
    years = sorted(set(years_to_announce(calendar, local_date(now))) | calendar.unknown_years_used())
    if not years:
        return []
    listed = ", ".join(map(str, years))
    if current_user.role != "admin":
        return [
            _(
                "The working calendar for %(years)s is not loaded: deadlines count Monday to Friday. "
                "An administrator must enter the State Council holiday notice.",
                years=listed,
            )
        ]
    text = _("The working calendar for %(years)s is not loaded: deadlines count Monday to Friday.", years=listed)
    link = url_for("admin_calendar.edit") + f"?year={years[-1]}"
    return [Markup('{} <a href="{}">{}</a>').format(text, link, _("Enter the State Council holiday notice"))]


def configure_errors(app: Flask) -> None:
    def page(code: int, title, message=None, headers=None):
        if request.path.startswith("/api/"):  # the partner API answers problem documents (RFC 9457)
            from hotline.api.problems import problem

            with force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
                return problem(code, message or title, headers=headers)
        if request.accept_mimetypes.best == "application/json":
            return {"error": str(title)}, code
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(400)
    def bad_request(e):
        # What a view said was wrong (``abort(400, description=...)``) is shown; werkzeug's generic text is not.
        return page(400, labels.ERROR_400, e.description if e.description != BadRequest.description else None)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return page(400, labels.ERROR_CSRF)

    @app.errorhandler(403)
    def forbidden(e):
        return page(403, labels.ERROR_403)

    @app.errorhandler(404)
    def not_found(e):
        return page(404, labels.ERROR_404)

    @app.errorhandler(405)
    def method_not_allowed(e):
        return page(405, labels.ERROR_405, headers={"Allow": ", ".join(e.valid_methods or ())})

    @app.errorhandler(413)
    def too_large(e):
        from hotline.request_limits import large_body

        large = large_body(request.endpoint)  # a route that takes files says how large one may be
        return page(413, labels.ERROR_413, large[1] if large else None)

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return page(500, labels.ERROR_500)


def configure_cli(app: Flask) -> None:
    from hotline.cli import hotline_cli

    app.cli.add_command(hotline_cli)
