"""``deploy/``: the gunicorn configuration, the systemd units and the nginx site, checked by the tools that read them.

``systemd-analyze verify`` parses the units (an unknown key or a bad value is
an error here); ``nginx -t`` checks the site with a throwaway certificate; and
one test runs the deployment as the README describes it: gunicorn with
``deploy/gunicorn.conf.py`` behind nginx with ``deploy/nginx-hotline.conf``,
over TLS, on ports of its own. ``make test`` installs nginx when it is missing
(``tests/machine.sh``), like chromium: these tests never skip.
"""

import configparser
import json
import os
import re
import runpy
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from xml.etree import ElementTree

import pytest

from config.settings import ROOT, Config

DEPLOY = ROOT / "deploy"
UNITS = ("hotline-web.service", "hotline-scheduler.service", "hotline-backup.service", "hotline-backup.timer")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(DEPLOY / name)
    return parser


# --- gunicorn -----------------------------------------------------------------------------------


def test_gunicorn_takes_its_workers_from_the_cores_or_the_environment(monkeypatch):
    monkeypatch.delenv("HOTLINE_WEB_WORKERS", raising=False)
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["workers"] == min(2 * os.cpu_count() + 1, 8)
    assert settings["timeout"] > 15  # Twilio waits 15 s for a webhook's answer
    assert settings["bind"] == "127.0.0.1:8000"
    assert "%(M)s" in settings["access_log_format"]  # the request time
    monkeypatch.setenv("HOTLINE_WEB_WORKERS", "3")
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["workers"] == 3


# --- systemd ------------------------------------------------------------------------------------


def test_the_units_run_as_hotline_with_the_environment_file_and_restart_on_failure():
    for name in ("hotline-web.service", "hotline-scheduler.service"):
        service = _unit(name)["Service"]
        assert service["User"] == "hotline" and service["EnvironmentFile"] == "/etc/hotline/env", name
        assert service["Restart"] == "on-failure", name
        assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict", name
        assert service["ReadWritePaths"] == "/opt/hotline/instance", name
    assert "deploy/gunicorn.conf.py app:app" in _unit("hotline-web.service")["Service"]["ExecStart"]
    assert _unit("hotline-scheduler.service")["Service"]["ExecStart"].endswith("hotline scheduler")
    assert "hotline backup /var/backups/hotline/" in _unit("hotline-backup.service")["Service"]["ExecStart"]
    assert _unit("hotline-backup.timer")["Timer"]["Persistent"] == "true"


def test_systemd_analyze_verifies_the_units(tmp_path):
    """Verified with their paths moved under tmp_path, where stand-ins for the programs they start exist."""
    root = tmp_path / "root"
    for program in ("opt/hotline/.venv/bin/gunicorn", "opt/hotline/.venv/bin/flask"):
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        (root / program).write_text("#!/bin/sh\n")
        (root / program).chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/opt/hotline", str(root / "opt/hotline"))
        (units / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in UNITS)],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    # and it does see mistakes: a misspelt key and a bad value are reported
    broken = (units / "hotline-web.service").read_text().replace("Restart=on-failure", "Restart=onfailure")
    (units / "broken.service").write_text(broken.replace("NoNewPrivileges=", "NoNewPrivilege="))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "./broken.service"],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "onfailure" in result.stderr and "NoNewPrivilege" in result.stderr


# --- nginx --------------------------------------------------------------------------------------


def test_the_nginx_site_matches_the_app():
    site = (DEPLOY / "nginx-hotline.conf").read_text()
    [size] = re.findall(r"client_max_body_size (\d+)m;", site)
    assert int(size) * 1024 * 1024 == Config.MAX_CONTENT_LENGTH
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site
    assert 'Strict-Transport-Security "max-age=31536000; includeSubDomains" always' in site
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "Host"):
        assert f"proxy_set_header {header} " in site
    [alias] = re.findall(r"alias (\S+);", site)
    assert alias == "/opt/hotline/hotline/static/" and (ROOT / "hotline" / "static").is_dir()


def _cert(folder) -> None:
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=hotline.example.cn",
            ),
            *("-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _nginx_prefix(tmp_path, *, https_port: int, http_port: int, upstream_port: int):
    """The site as an admin installs it, its certificate, logs, ports and paths moved under ``tmp_path``."""
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    _cert(prefix)
    site = (DEPLOY / "nginx-hotline.conf").read_text()
    for old, new in (
        ("/etc/letsencrypt/live/hotline.example.cn/", f"{prefix}/"),
        ("/var/log/nginx/", f"{prefix}/logs/"),
        ("/opt/hotline/hotline/static/", f"{ROOT}/hotline/static/"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (prefix / "site.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\nuser root;\nevents {{}}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  client_body_temp_path {prefix}/body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n  include {prefix}/site.conf;\n}}\n"
    )
    return prefix


def test_nginx_accepts_the_site(tmp_path):
    prefix = _nginx_prefix(tmp_path, https_port=_free_port(), http_port=_free_port(), upstream_port=8000)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


# --- the whole deployment -----------------------------------------------------------------------


def _wait_for(url: str, context=None, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5, context=context)  # noqa: S310  (http or https here)
        except urllib.error.HTTPError as answer:
            return answer
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def deployment(tmp_path):
    """gunicorn (deploy/gunicorn.conf.py, one worker, a fresh SQLite database) behind nginx over TLS."""
    app_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "HOTLINE_SECRET_KEY": "deployment-test-" + "x" * 32,
        "HOTLINE_PUBLIC_BASE_URL": f"https://127.0.0.1:{https_port}",
        "HOTLINE_PROXY_HOPS": "1",
        "HOTLINE_SECURE_COOKIES": "1",
        "HOTLINE_SPOOL_DIR": str(tmp_path / "spool"),
        "TWILIO_AUTH_TOKEN": "deployment-test",
        "HOTLINE_LOG_LEVEL": "WARNING",
        "HOTLINE_BIND": f"127.0.0.1:{app_port}",
        "HOTLINE_WEB_WORKERS": "1",
    }
    env.pop("TEST_DATABASE_URL", None)
    init = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "hotline", "init-db"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=180,
    )
    assert init.returncode == 0, init.stderr.decode(errors="replace")[-2000:]
    access_log = tmp_path / "gunicorn.log"
    with access_log.open("wb") as log:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "app:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prefix = _nginx_prefix(tmp_path, https_port=https_port, http_port=http_port, upstream_port=app_port)
    nginx = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    context = ssl.create_default_context()
    context.load_verify_locations(prefix / "fullchain.pem")
    context.check_hostname = False
    try:
        _wait_for(f"http://127.0.0.1:{app_port}/login")  # gunicorn is up
        yield {
            "https": f"https://127.0.0.1:{https_port}",
            "http": f"http://127.0.0.1:{http_port}",
            "context": context,
            "log": access_log,
        }
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(timeout=30)
        gunicorn.wait(timeout=30)


def test_gunicorn_behind_nginx_serves_the_app_over_tls(deployment):
    https, context = deployment["https"], deployment["context"]
    with _wait_for(f"{https}/login", context) as answer:
        page = answer.read().decode()
        assert answer.status == 200 and "登录" in page
        assert answer.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]
        assert "Secure" in answer.headers["Set-Cookie"]
    with _wait_for(f"{https}/static/css/hotline.css", context) as answer:
        assert answer.status == 200 and answer.headers["Cache-Control"] == "max-age=3600"
        assert answer.headers["Content-Type"].startswith("text/css")
    # a body over the app's limit is refused by nginx
    big = urllib.request.Request(  # noqa: S310  (https)
        f"{https}/login", data=b"x" * (Config.MAX_CONTENT_LENGTH + 1), method="POST"
    )
    assert _wait_for(big, context).code == 413
    # plain HTTP is sent to HTTPS
    plain = urllib.request.build_opener(_NoRedirect).open(f"{deployment['http']}/login", timeout=10)
    assert plain.status == 301 and plain.headers["Location"].startswith("https://")

    time.sleep(0.5)  # the access log is written after the answer
    log = deployment["log"].read_text()
    [line] = [
        line for line in log.splitlines() if '"GET /login HTTP/1.1" 200' in line and line.startswith("127.0.0.1 ")
    ]
    assert re.search(r" \d+ms$", line), line  # the request time
    assert "/static/" not in log  # nginx served the static files itself


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

    def http_error_301(self, req, fp, code, msg, headers):
        return fp


# --- the admin's command and the Twilio fallbacks -------------------------------------------------


def test_the_hotline_command_runs_the_doctor_with_the_example_environment(tmp_path):
    """``deploy/hotline-cli`` with ``env.example`` as shipped: the placeholders are flagged, the rest is right."""
    example = (DEPLOY / "env.example").read_text()
    database = f"HOTLINE_DATABASE_URL=sqlite:///{tmp_path / 'cli.sqlite3'}"
    env_file = tmp_path / "env"
    env_file.write_text(
        re.sub(r"^HOTLINE_DATABASE_URL=.*$", database, example, flags=re.M) + f"HOTLINE_SPOOL_DIR={tmp_path}/spool\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "TEST_DATABASE"))}
    env |= {"HOTLINE_HOME": str(ROOT), "HOTLINE_ENV_FILE": str(env_file), "HOTLINE_USER": _user()}
    result = subprocess.run(
        [str(DEPLOY / "hotline-cli"), "check", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr[-2000:]
    findings = {f["check"]: f["status"] for f in json.loads(result.stdout)}
    assert findings["secret_key"] == "fail" and findings["twilio"] == "fail"
    assert findings["public_url"] == findings["secure_cookies"] == findings["proxy_hops"] == "ok"


def _user() -> str:
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize(
    ("name", "verb"), [("twilio-fallback-voice.xml", "Say"), ("twilio-fallback-sms.xml", "Message")]
)
def test_the_twilio_fallbacks_are_twiml(name, verb):
    root = ElementTree.parse(DEPLOY / name).getroot()  # noqa: S314  (our own file)
    assert root.tag == "Response"
    texts = [node.text for node in root.iter(verb)]
    assert texts and all("110" in t or "一一零" in t for t in texts)
