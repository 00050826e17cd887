"""A deployment as the README describes it: a checkout, ``requirements.txt``, ``init-db`` and gunicorn, no ``make``.

The compiled catalogues (``*.mo``) are not in git. This copies the source as
a checkout has it (no ``.mo``), starts gunicorn on it and expects the login
page in Chinese: ``create_app`` compiles what is missing.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from config.settings import ROOT

SOURCE = ("app.py", "hotline", "models", "templates", "config", "migrations")


def _checkout(target):
    ignore = shutil.ignore_patterns("*.mo", "__pycache__", "*.pyc")
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(path, target / name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_on_a_fresh_checkout_speaks_chinese(tmp_path):
    checkout = tmp_path / "hotline"
    checkout.mkdir()
    _checkout(checkout)
    assert not list(checkout.glob("hotline/translations/*/LC_MESSAGES/messages.mo"))
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "HOTLINE_SECRET_KEY": "deployment-test",
        "HOTLINE_LOG_LEVEL": "WARNING",
    }
    env.pop("TEST_DATABASE_URL", None)
    init = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "hotline", "init-db"],
        cwd=checkout,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr.decode(errors="replace")[-2000:]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        html, deadline = None, time.monotonic() + 30
        while html is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as answer:
                    html = answer.read().decode("utf-8")
            except OSError:
                time.sleep(0.2)
        assert html is not None, "gunicorn did not answer within 30 s"
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    assert "登录" in html and "Log in" not in html, err.decode(errors="replace")[-2000:]
    assert (checkout / "hotline/translations/zh_CN/LC_MESSAGES/messages.mo").exists()
