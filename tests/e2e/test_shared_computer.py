"""On a shared computer, logging out leaves nothing to page back to.

Bob reads the daily question's answers, now open because both answered, and
logs out. Whoever sits down next and presses Back must get a page from the
server (the log-in, or the landing page), not the answers from the browser's
memory or cache: every page says ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from exercises import daily
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_rituals import log_in
from tests.factories import UserFactory, make_couple

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE_ANSWER = "QX7 the pancakes on Sunday morning"
BOB_ANSWER = "QX7 dancing in the kitchen"


@pytest.fixture
def answered_today(db):
    alice = UserFactory(email="alice@example.com", display_name="Alice", time_zone="Europe/Berlin")
    bob = UserFactory(email="bob@example.com", display_name="Bob", time_zone="Europe/Berlin")
    couple = make_couple(alice, bob, name="Alice & Bob")
    today = daily.couple_today(couple)
    assert daily.answer(couple, alice, today, ALICE_ANSWER)
    assert daily.answer(couple, bob, today, BOB_ANSWER)


@pytest.fixture
def browser_with_back_forward_cache(browser: Browser) -> Iterator[Page]:
    """A Chromium as people use it: Playwright turns the back/forward cache off
    by default, and that cache is what keeps whole pages for the Back button.
    Started by the session's Playwright (a second one can't run beside it)."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    try:
        context = chromium.new_context(locale="en-GB", timezone_id="Europe/Berlin")
        context.set_default_timeout(10_000)
        yield context.new_page()
    finally:
        chromium.close()


def test_back_after_logging_out_shows_no_answers(
    site, answered_today, browser_with_back_forward_cache
):
    page = browser_with_back_forward_cache
    log_in(page, site, "bob@example.com")
    page.goto(site + "/exercises/daily/")
    expect(page.get_by_text(ALICE_ANSWER)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    # A page restored from the back/forward cache fires no "load": wait for less.
    page.go_back(wait_until="commit")
    expect(page.get_by_text(ALICE_ANSWER)).to_have_count(0)
    expect(page.get_by_text(BOB_ANSWER)).to_have_count(0)
    # The server answered: the daily question wants a log-in now.
    expect(page).to_have_url(site + "/accounts/login/?next=/exercises/daily/")
