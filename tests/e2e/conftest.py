"""Playwright (sync API) against pytest-django's live server, with real email and Celery.

Not pytest-playwright: one Chromium per session from ``sync_playwright()``,
and a fresh browser context per partner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.integration.worker import RunningWorker, running_worker
from tests.mailsink import MailSink

ROOT = Path(__file__).resolve().parents[2]
BROWSER_HOME = ROOT / "var" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; its profile, cache and temp files stay inside var/."""
    dirs = {name: BROWSER_HOME / name for name in ("config", "cache", "tmp")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # The Playwright driver and Chromium inherit this environment when they start.
    with _environ(
        XDG_CONFIG_HOME=str(dirs["config"]),
        XDG_CACHE_HOME=str(dirs["cache"]),
        TMPDIR=str(dirs["tmp"]),
    ):
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


class BrowserProblems:
    """Console errors and uncaught exceptions from every page of a test."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page, who: str) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                url = message.location.get("url", "")
                self.errors.append(f"{who}: console error: {message.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"{who}: uncaught: {error}"))
        return page


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def new_page(
    request, browser: Browser, browser_problems: BrowserProblems, artifacts_dir: Path
) -> Iterator:
    """``new_page("alice")``: a page in its own browser context (own cookies and storage).

    When the test fails, each page's last state is saved to var/test-artifacts/.
    """
    pages: dict[str, Page] = {}

    def make(who: str) -> Page:
        context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin")
        context.set_default_timeout(10_000)
        pages[who] = browser_problems.watch(context.new_page(), who)
        return pages[who]

    yield make
    for who, page in pages.items():
        if getattr(request.node, "e2e_failed", False):
            stem = artifacts_dir / f"failed-{request.node.name}-{who}"
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content())
        page.context.close()


@pytest.fixture
def site(live_server, settings):
    """The live server's address, also used for the links in emails."""
    settings.SITE_URL = live_server.url
    return live_server.url


@pytest.fixture
def mail_sink(settings) -> Iterator[MailSink]:
    with MailSink() as sink:
        settings.MAILERS = sink.mailers()
        yield sink


@pytest.fixture
def celery_worker(site, mail_sink) -> Iterator[RunningWorker]:
    with running_worker() as worker:
        yield worker
