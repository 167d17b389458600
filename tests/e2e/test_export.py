"""Downloading one's data in a real browser: asked for with a click, prepared by a
real Celery worker while the page waits (htmx polls its status), downloaded as a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.e2e.test_pairing import assert_no_browser_problems
from tests.factories import UserFactory, make_couple

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_partner_asks_for_her_data_and_downloads_it_once_the_worker_prepared_it(
    site, browser, browser_problems, celery_worker
):
    alice = UserFactory(display_name="Alice", email="alice@example.com")
    make_couple(alice, UserFactory(display_name="Bob"), name="Alice & Bob")
    client = Client()
    client.force_login(alice)
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="en-GB", accept_downloads=True
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site,
            }
        ]
    )
    page = browser_problems.watch(context.new_page(), "alice")
    try:
        page.goto(site + "/accounts/settings/")
        page.get_by_role("link", name="Download everything I wrote (JSON)").click()
        expect(page.get_by_role("heading", name="Download your data", level=1)).to_be_visible()
        page.get_by_role("button", name="Prepare my download").click()
        # The worker builds it; the status, polled every 2 s, turns into a link.
        link = page.get_by_role("link", name="Download my data")
        expect(link).to_be_visible(timeout=20_000)
        expect(page.get_by_role("button", name="Prepare a fresh one")).to_be_visible()
        with page.expect_download() as started:
            link.click()
        download = started.value
        assert download.suggested_filename.startswith("tend-export-")
        data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        assert data["profile"]["email"] == "alice@example.com"
        assert [space["space"] for space in data["spaces"]] == ["Alice & Bob"]
        assert_no_browser_problems(browser_problems)
    finally:
        context.close()
