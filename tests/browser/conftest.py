"""Browser fixtures: the test app on a real port, and Chromium driven through Playwright.

``live_server`` serves the ``app`` fixture of ``tests/conftest.py`` (so the
browser and the test share the per-test database) with werkzeug on
127.0.0.1 and a free port, in a thread, stopped after the test.

``page`` is a fresh browser context and tab in Debian's Chromium
(``/usr/bin/chromium``, installed by apt; ``playwright install`` is never
used). Chromium is launched once per test session; each test gets its own
context, so cookies and sessions never leak between tests. A console error
or an uncaught script error on any page (a Content-Security-Policy violation
shows up as one) or a stylesheet, script or image that fails to load
fails the test. A failed test leaves a screenshot in
``test-artifacts/``, beside the ones the tests take on purpose.
"""

import re
import threading

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from config.settings import ROOT
from tests.conftest import PASSWORD

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: A desk monitor, not a phone: the layout operators actually work with.
VIEWPORT = {"width": 1440, "height": 900}
#: Long enough for a slow CI machine, short enough that a missing element fails fast.
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so ``page`` knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def live_server(app):
    """The test app served over HTTP; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Request threads are joined on close, so none still writes while the app fixture empties the tables.
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, request):
    """A tab on the live server (relative URLs work), in Simplified Chinese and Asia/Shanghai like the desk PCs."""
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []

    def on_console(message):
        # A page answered 4xx on purpose (a refused login is 401) is logged as a failed load: not an error here.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"console: {message.text} ({message.location.get('url')})")

    def on_response(response):
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status}: {response.url}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("pageerror", lambda exc: errors.append(f"script: {exc}"))
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(tab, f"FAILED-{request.node.name}")
    context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as ``test-artifacts/<name>.png`` (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", name)
    page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would, and wait for the start page."""
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
