"""Browser tests: Playwright's sync API driving Debian's Chromium, headless, against live_server.

Chromium comes from the system (/usr/bin/chromium); `playwright install` is never needed. Without
it the browser tests are skipped, except under CI=true, where a missing browser fails the run.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, PASSWORD

CHROMIUM = Path(os.environ.get("VEIN2VEIN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ.get("VEIN2VEIN_SHOTS_DIR") or Path(tempfile.gettempdir()) / "v2v-shots")
# A 10-inch cleanroom tablet, landscape and portrait.
TABLET = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (the event loop stops with it)."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test code still calls the
    # ORM (set-up rows, assertions), which Django refuses inside a running loop unless told
    # otherwise. Only while the browser runs: other tests' subprocesses must not inherit it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server, request):  # type: ignore[no-untyped-def]
    """new_page(viewport=TABLET) -> a page in a fresh browser context (own cookies)."""
    contexts = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(
            viewport=viewport or TABLET, base_url=live_server.url, locale="en-GB"
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                page.screenshot(path=str(SHOTS / f"FAILED-{name}-{n}-{m}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):  # type: ignore[no-untyped-def]
    return new_page()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would, and land on the dashboard."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def screenshot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_focus(page: Any, name: str) -> None:
    """Wait until the field named `name` has the focus (autofocus runs after the page loads;
    a scanner's Enter moves it): fails with a timeout when it never does."""
    page.wait_for_function(
        "n => document.activeElement && document.activeElement.name === n",
        arg=name,
        timeout=TIMEOUT_MS,
    )
