"""Real-browser test harness for the web widget.

The product runs for real (scripts/stack.py via tests/conftest.py: action
server + Rasa with our socket.io channel, on free ports); a small static
server here serves web/ and puts the test Rasa URL into index.html's
data-server attribute. Debian's chromium is driven by Playwright for Python.

The stack allows exactly the origins these pages are served from (BACLOFEN_ALLOWED_ORIGINS;
socket.io refuses any other Origin): the static server here, the stack's own web part and
one more page server (PAGE_SERVER_PORT), each as localhost and 127.0.0.1.

Environment: BACLOFEN_CHROMIUM (browser binary, default /usr/bin/chromium).
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from stack import Stack, free_port  # scripts/stack.py, put on sys.path by tests/conftest.py

from tests.conftest import start_stack

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
RESULTS = REPO / "test-results"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCRIPT_TAG = '<script src="widget.js"'
# Ports of the pages the tests open, chosen up front so the stack can allow their origins.
STATIC_PORT, STACK_WEB_PORT, PAGE_SERVER_PORT = free_port(), free_port(), free_port()
PAGE_ORIGINS = {"BACLOFEN_ALLOWED_ORIGINS": ",".join(
    f"http://{host}:{port}" for port in (STATIC_PORT, STACK_WEB_PORT, PAGE_SERVER_PORT)
    for host in ("localhost", "127.0.0.1"))}


def host_page(rasa_url: str) -> bytes:
    """web/index.html exactly as shipped, with data-server set to rasa_url."""
    html = (WEB / "index.html").read_text()
    assert html.count(SCRIPT_TAG) == 1, "web/index.html must embed the widget with one script tag"
    return html.replace(SCRIPT_TAG, f'<script data-server="{rasa_url}" src="widget.js"').encode()


def static_handler(default_rasa_url: str) -> type[http.server.SimpleHTTPRequestHandler]:
    """Serves web/. The page's Rasa URL is the default, or ?server=URL (a test-server
    feature only: the widget itself reads nothing from the address bar)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(WEB), **kwargs)

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urllib.parse.urlsplit(self.path)
            if url.path not in ("/", "/index.html"):
                super().do_GET()
                return
            rasa_url = urllib.parse.parse_qs(url.query).get("server", [default_rasa_url])[0]
            body = host_page(rasa_url)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass  # keep test output readable

    return Handler


class WebServer:
    """web/ on a free port, in a thread of the test process."""

    def __init__(self, default_rasa_url: str, port: int = STATIC_PORT) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), static_handler(default_rasa_url))
        self.port = self.httpd.server_address[1]
        self.default_rasa_url = default_rasa_url
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def page_url(self, rasa_url: str | None = None) -> str:
        base = f"http://localhost:{self.port}/"
        return base if rasa_url is None else f"{base}?{urllib.parse.urlencode({'server': rasa_url})}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rasa_url(stack: Stack) -> str:
    # "localhost" while the page is also on localhost: a different port is still cross-origin.
    return f"http://localhost:{stack.rasa_port}"


def restart_rasa(stack: Stack, timeout: float = 240.0) -> None:
    """Start the stack's Rasa server again after stop_part("Rasa server"), same port."""
    part = next(p for p in stack.parts if p.name == "Rasa server")
    with open(part.log, "a") as log:
        part.proc = subprocess.Popen(
            part.cmd, cwd=REPO, env=stack._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack._wait_healthy(part, timeout)


def start_page_stack(**kwargs: Any) -> Stack:
    """A stack (tests/conftest.py's start_stack) that allows the test pages' origins."""
    return start_stack(extra_env=dict(PAGE_ORIGINS), **kwargs)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """tests/conftest.py's stack, its web part on STACK_WEB_PORT, allowing the pages' origins."""
    s = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=STACK_WEB_PORT,
              tracker_url=f"sqlite:///{tempfile.mkdtemp(prefix='baclofen-browser-')}/conversations.sqlite",
              extra_env=dict(PAGE_ORIGINS))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def web(stack: Stack) -> Iterator[WebServer]:
    """The example host page, talking to the shared real stack."""
    server = WebServer(rasa_url(stack))
    yield server
    server.close()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """web/node_modules as pinned by web/package-lock.json (npm ci if missing or stale)."""
    modules = WEB / "node_modules"
    marker = modules / ".package-lock.json"  # npm writes it on every install
    lock = WEB / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=300)
    return modules


@pytest.fixture(scope="session")
def axe_source(node_modules: Path) -> str:
    return (node_modules / "axe-core" / "axe.min.js").read_text()


# Module scope, not session: Playwright's sync API keeps an event loop running in the
# main thread while it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = os.environ.get("BACLOFEN_CHROMIUM", "/usr/bin/chromium")
    launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's report on the item so the page fixture sees failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot_path(nodeid: str) -> Path:
    return RESULTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1]) + ".png")


@pytest.fixture()
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (empty storage) per test; a screenshot if it fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        RESULTS.mkdir(exist_ok=True)
        try:
            new_page.screenshot(path=str(screenshot_path(request.node.nodeid)), full_page=True)
        except Exception as exc:  # the page may be gone; the test failure matters more
            print(f"screenshot failed: {exc}")
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
