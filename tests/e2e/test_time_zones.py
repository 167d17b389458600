"""Picking a time zone in a real browser: the browser's own zone first, a search box,
and without JavaScript a plain grouped list that works the same."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_pairing import assert_no_browser_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def signup_page(browser: Browser, site: str, problems, zone: str, javascript: bool = True):
    context = browser.new_context(locale="en-GB", timezone_id=zone, java_script_enabled=javascript)
    page = problems.watch(context.new_page(), zone)
    page.goto(site + "/accounts/signup/")
    return page


@pytest.mark.parametrize(
    ("browser_zone", "chosen"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        # Chromium reports some zones by an older name; the list knows its zone.
        ("Asia/Calcutta", "Asia/Kolkata"),
    ],
)
def test_signup_starts_at_the_browsers_zone(site, browser, browser_problems, browser_zone, chosen):
    page = signup_page(browser, site, browser_problems, browser_zone)
    expect(page.get_by_label("Time zone", exact=True)).to_have_value(chosen)
    page.context.close()
    assert_no_browser_problems(browser_problems)


def test_the_search_box_finds_a_zone_by_city_or_country(site, browser, browser_problems):
    page = signup_page(browser, site, browser_problems, "UTC")
    zones = page.get_by_label("Time zone", exact=True)
    expect(zones).to_have_value("UTC")
    search = page.get_by_label("Find your time zone")
    search.fill("lisb")
    expect(zones).to_have_value("Europe/Lisbon")
    expect(page.get_by_text("One match, chosen: Lisbon · Portugal")).to_be_visible()
    # A country finds its zones, accents or not; the first is chosen, the
    # list opens on the matches.
    search.fill("cote d ivoire")
    expect(zones).to_have_value("Africa/Abidjan")
    search.fill("atlantis")
    expect(page.get_by_text("No time zone matches “atlantis”.")).to_be_visible()
    expect(zones).to_have_value("Africa/Abidjan")
    search.fill("new zealand")
    expect(page.get_by_text(re.compile(r"^[23] matches\. Choose one in the list"))).to_be_visible()
    assert page.evaluate("document.getElementById('id_time_zone').size") in (2, 3)
    expect(zones).to_have_value("Pacific/Auckland")
    zones.select_option("Pacific/Chatham")
    search.fill("")
    expect(zones).to_have_value("Pacific/Chatham")
    assert page.evaluate("document.getElementById('id_time_zone').size") == 0
    # Enter in the search box chooses; it doesn't send a half-filled form.
    search.fill("tokyo")
    search.press("Enter")
    expect(page).to_have_url(site + "/accounts/signup/")
    expect(zones).to_have_value("Asia/Tokyo")
    page.context.close()
    assert_no_browser_problems(browser_problems)


def test_without_javascript_the_list_is_grouped_by_region(site, browser, browser_problems):
    page = signup_page(browser, site, browser_problems, "Europe/Berlin", javascript=False)
    expect(page.get_by_label("Find your time zone")).to_have_count(0)
    zones = page.get_by_label("Time zone", exact=True)
    expect(zones).to_have_value("UTC")
    groups = zones.locator("optgroup").evaluate_all("(groups) => groups.map((g) => g.label)")
    assert groups[:3] == ["Africa", "Americas", "Antarctica"]
    zones.select_option("Europe/Berlin")
    expect(zones).to_have_value("Europe/Berlin")
    page.context.close()
