"""Fixtures for tests that drive the real dashboard over HTTP: a demo upstream, a live
server pointed at it, a staff account with a known password, and headless Chromium.

Registered from tests/conftest.py through `pytest_plugins`, so any test module can use
`demo_upstream`, `live_dashboard`, `browser_staff`, `page` and `log_in`.

The browser is Debian's Chromium at /usr/bin/chromium, never a downloaded one. Without it
the browser tests skip with a loud reason, unless REQUIRE_BROWSER=1 (CI) makes them fail.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from dashboard.demo_upstream.server import DEFAULT_API_KEY, DemoUpstreamServer, serve_in_thread

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
DEMO_KEY = DEFAULT_API_KEY
BROWSER_USERNAME = "browser-staff"
BROWSER_PASSWORD = "a long browser test password"


@dataclass
class DemoUpstream:
    """The running demo upstream and its fault-injection control endpoint."""

    server: DemoUpstreamServer
    base_url: str
    api_key: str = DEMO_KEY

    @property
    def control_url(self) -> str:
        return self.base_url.removesuffix("/v1") + "/__control"

    def _control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = Request(
            self.control_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def inject(self, **fault: Any) -> dict[str, Any]:
        """Make the next `count` API requests misbehave (mode=status/latency/drop/...)."""
        return self._control("POST", "/faults", fault)

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def reset(self) -> None:
        """Undo deletions, clear faults and zero the request counter."""
        self._control("POST", "/reset")

    def requests_served(self) -> int:
        return self._control("GET", "/stats")["requests"]


@pytest.fixture(scope="session")
def demo_upstream() -> Iterator[DemoUpstream]:
    server, base_url = serve_in_thread(api_key=DEMO_KEY, control=True)
    try:
        yield DemoUpstream(server=server, base_url=base_url)
    finally:
        server.close()


@pytest.fixture
def demo_settings(upstream_settings, demo_upstream: DemoUpstream):
    """Point the dashboard at the demo upstream (after conftest's fake URL), fault-free."""
    demo_upstream.reset()
    upstream_settings.CHATKIT = replace(
        upstream_settings.CHATKIT, base_url=demo_upstream.base_url, api_key=demo_upstream.api_key
    )
    yield upstream_settings
    demo_upstream.clear_faults()


def _unsafe_async_allowed() -> None:
    # Playwright's sync API keeps an event loop running in this thread, and Django refuses
    # ORM calls from a thread with a running loop unless told this is deliberate.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def live_dashboard(transactional_db, live_server, demo_settings) -> str:
    """The live server's base URL, talking to the demo upstream."""
    _unsafe_async_allowed()
    return live_server.url


@pytest.fixture
def browser_staff(transactional_db, django_user_model):
    _unsafe_async_allowed()
    return django_user_model.objects.create_user(
        username=BROWSER_USERNAME, password=BROWSER_PASSWORD, is_staff=True
    )


def chromium_or_skip() -> str:
    """The Chromium binary; a loud skip locally, a failure when REQUIRE_BROWSER=1."""
    if os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = (
        f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM}. Install Debian's `chromium` "
        "package (CI does, and sets REQUIRE_BROWSER=1 so this is a failure there)."
    )
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    warnings.warn(reason, stacklevel=1)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    _unsafe_async_allowed()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_dashboard) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; times out fast rather than hang."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page, base_url: str, username: str = BROWSER_USERNAME, password: str = BROWSER_PASSWORD):
    """Log in through the real form, as a person would."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
