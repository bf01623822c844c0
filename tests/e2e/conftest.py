"""Real-browser end-to-end tests: one Streamlit server and one headless Chromium per session.

The server runs ``streamlit run app.py`` in its own process group, on a free port, with its own
workspace and cache folders and the tiny demo preset. Chromium is Debian's (``/usr/bin/chromium``,
installed by ``.ci/run``), driven by Playwright, which never downloads a browser of its own.

Without Playwright or Chromium the tests skip, except on CI (``CI=true``) where they fail
(``ASD_E2E_CHROMIUM`` names another Chromium binary). A failing test prints the server log's
tail and leaves a screenshot of its page in its tmp_path.
``ASD_SCREENSHOT_DIR`` makes the tests save a full-page PNG of every page once it shows its
real content (``python -m pytest tests/e2e`` with ``ASD_SCREENSHOT_DIR=docs/screenshots``
renews the README's screenshots).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ASD_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOT_MAX_HEIGHT = 4000  # px: a longer page is cut there
RUN_TIMEOUT_MS = 120_000  # one script run of a page (a cold cache computes features)
SERVER_START_S = 90


def _unavailable(reason: str) -> None:
    """Fail on CI, where the browser tests must run; skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"The browser tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


# --- the server ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


class Server:
    """The Streamlit server under test: its URL, folders and log."""

    def __init__(self, base: Path):
        self.base = base
        self.workspace = base / "workspace"
        self.cache = base / "cache"
        self.log_path = base / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables that point the engine at this server's folders and demo."""
        return {"ASD_WORKSPACE_DIR": str(self.workspace), "ASD_CACHE_DIR": str(self.cache),
                # ASD_E2E_PRESET=demo: the full demo, for the README's screenshots
                "ASD_DEMO_PRESET": os.environ.get("ASD_E2E_PRESET", "tiny"), "ASD_UMAP_WARMUP": "0"}

    def start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py",
                 "--server.port", str(self.port), "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(self.url):
            if self.process.poll() is not None:
                pytest.fail(f"The Streamlit server exited with status {self.process.returncode} "
                            f"before it answered:\n{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"The Streamlit server did not answer {self.url}/_stcore/health in "
                            f"{SERVER_START_S} s:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL), and any run it launched
        that is still working (workers have their own process groups)."""
        with self.engine_env():
            from asdcore import runs, workers

            for row in runs.list_runs():
                if row["status"] in runs.ACTIVE_STATES:
                    with contextlib.suppress(Exception):
                        workers.cancel(runs.open_run(row["name"]), grace_s=2.0)
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait_s)
                return

    def log_tail(self, chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return text[-chars:] or "(the server log is empty)"

    @contextlib.contextmanager
    def engine_env(self):
        """Point this (test) process's engine calls at the server's folders for a while."""
        old = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, request) -> Server:
    server = Server(tmp_path_factory.mktemp("e2e-server"))
    request.config.stash[_SERVER_KEY] = server
    server.start()
    yield server
    server.stop()
    if request.session.testsfailed:
        print(f"\n--- Streamlit server log ({server.log_path}) ---\n{server.log_tail()}")


@pytest.fixture
def fresh_server(tmp_path_factory) -> Server:
    """A server of its own that no browser has visited yet (as after a restart): the first
    request Streamlit sees decides how it routes, so deep links are tested on one of these."""
    server = Server(tmp_path_factory.mktemp("e2e-fresh-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_app(browser, fresh_server):
    """A fresh browser context and page on a `fresh_server`."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        yield App(context.new_page(), fresh_server, None)
    finally:
        context.close()


_SERVER_KEY = pytest.StashKey[Server]()
_CALL_FAILED_KEY = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server log's tail to every failing browser test."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_FAILED_KEY] = report.failed
    server = item.config.stash.get(_SERVER_KEY, None)
    if report.failed and server is not None and "app_server" in item.fixturenames:
        report.sections.append(("Streamlit server log (tail)", server.log_tail()))


@pytest.fixture
def server_env(app_server, monkeypatch) -> Server:
    """This test's engine calls (label store, runs) read the server's folders, not the empty
    per-test workspace that tests/conftest.py gives every test."""
    for key, value in app_server.env.items():
        monkeypatch.setenv(key, value)
    return app_server


# --- the browser --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed "
                     "(pip install -r requirements-dev.txt).")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class App:
    """One browser page on the app, with Streamlit-aware waiting and screenshots."""

    def __init__(self, page, server: Server, screenshot_dir: Path | None):
        self.page = page
        self.server = server
        self.screenshot_dir = screenshot_dir
        self.page_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def open(self, path: str = "") -> None:
        """Load a page (``""`` is home, else the page's URL name, e.g. ``Pseudo-labels``)."""
        response = self.page.goto(f"{self.server.url}/{path}")
        assert response is not None and response.ok, f"GET /{path}: {response and response.status}"
        self.page.get_by_test_id("stAppViewContainer").wait_for(state="attached")
        self.wait()

    def wait(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until the app is connected and its script has finished running (Streamlit
        publishes both on the root element), and nothing is still a loading skeleton."""
        from playwright.sync_api import expect

        self.page.wait_for_timeout(250)  # let a click's rerun request start
        root = self.page.get_by_test_id("stApp")
        expect(root).to_have_attribute("data-test-connection-state", "CONNECTED",
                                       timeout=timeout_ms)
        expect(root).to_have_attribute("data-test-script-state", "notRunning",
                                       timeout=timeout_ms)
        expect(self.page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)

    def assert_healthy(self) -> None:
        """No exception box, no error box, no uncaught error in the browser."""
        from playwright.sync_api import expect

        expect(self.page.get_by_test_id("stException")).to_have_count(0)
        errors = self.page.get_by_test_id("stAlertContentError").all_inner_texts()
        assert not errors, f"error boxes on the page: {errors}"
        assert not self.page_errors, f"errors in the browser: {self.page_errors}"

    def wait_for_charts(self, minimum: int = 1) -> None:
        """At least ``minimum`` Plotly charts drawn, each with its plot area."""
        from playwright.sync_api import expect

        charts = self.page.get_by_test_id("stPlotlyChart")
        expect(charts.nth(minimum - 1)).to_be_attached(timeout=RUN_TIMEOUT_MS)
        for index in range(charts.count()):
            expect(charts.nth(index).locator(".main-svg").first).to_be_attached(
                timeout=RUN_TIMEOUT_MS)

    def screenshot(self, name: str) -> Path | None:
        """A full-page PNG ``<name>.png`` in ASD_SCREENSHOT_DIR, when that is set. Streamlit
        scrolls inside its main block, so the window is made as tall as the content first."""
        if self.screenshot_dir is None:
            return None
        self.wait()
        main = self.page.get_by_test_id("stMain")
        height = 0
        for _ in range(3):  # content may grow once the window is taller (lazy charts)
            new_height = min(int(main.evaluate("el => el.scrollHeight")), SCREENSHOT_MAX_HEIGHT)
            if new_height <= height:
                break
            height = new_height
            self.page.set_viewport_size({"width": VIEWPORT["width"],
                                         "height": max(VIEWPORT["height"], height)})
            self.page.wait_for_timeout(800)  # charts follow the new size
            self.wait()
        path = self.screenshot_dir / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(VIEWPORT)
        return path


@pytest.fixture(scope="session")
def screenshot_dir() -> Path | None:
    value = os.environ.get("ASD_SCREENSHOT_DIR", "").strip()
    if not value:
        return None
    folder = Path(value)
    if not folder.is_absolute():
        folder = PROJECT_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def app(browser, app_server, screenshot_dir, request, tmp_path):
    """A fresh browser context (no cookies, no session) and page on the app; a failing test
    leaves a screenshot of the page in its tmp_path."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield App(page, app_server, screenshot_dir)
        if request.node.stash.get(_CALL_FAILED_KEY, False):
            shot = tmp_path / "failure.png"
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shot), full_page=True)
                print(f"Screenshot of the page at the failure: {shot}")
    finally:
        context.close()

