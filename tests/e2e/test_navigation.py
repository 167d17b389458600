"""Finding one's way on a phone: tabs along the bottom, a one-row header, and a
tile that lands on its exercise ready to start."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.e2e.test_pairing import assert_no_browser_problems
from tests.factories import UserFactory, make_couple

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(site, browser, browser_problems):
    alice = UserFactory(display_name="Alice")
    make_couple(alice, UserFactory(display_name="Bob"), name="Alice & Bob")
    client = Client()
    client.force_login(alice)
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
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
    yield page
    context.close()


def test_on_a_phone_the_tabs_sit_at_the_bottom_and_the_header_is_one_row(
    site, phone, browser_problems
):
    phone.goto(site + "/")
    tabs = phone.get_by_role("navigation", name="Main")
    box = tabs.bounding_box()
    assert box["y"] + box["height"] == pytest.approx(740, abs=1)
    assert box["width"] == 360
    for name in ("Our space", "Rituals", "Exercises", "Settings"):
        link = tabs.get_by_role("link", name=name)
        expect(link).to_be_visible()
        assert link.bounding_box()["height"] >= 44
    expect(tabs.get_by_role("link", name="Our space")).to_have_attribute("aria-current", "page")
    header = phone.get_by_role("banner").bounding_box()
    assert header["height"] <= 64  # brand and "Log out" on one row
    log_out = phone.get_by_role("button", name="Log out").bounding_box()
    assert log_out["y"] < header["height"]
    # Still reachable while scrolled down: the bar stays put.
    phone.mouse.wheel(0, 2000)
    expect(tabs.get_by_role("link", name="Rituals")).to_be_in_viewport()
    tabs.get_by_role("link", name="Rituals").click()
    expect(phone.get_by_role("heading", name="Rituals", level=1)).to_be_visible()
    expect(tabs.get_by_role("link", name="Rituals")).to_have_attribute("aria-current", "page")
    assert_no_browser_problems(browser_problems)


def test_a_tile_on_the_dashboard_opens_its_exercise_ready_to_start(site, phone, browser_problems):
    phone.goto(site + "/")
    phone.get_by_role("region", name="Together, live").get_by_role(
        "link", name="Eye gazing"
    ).click()
    expect(phone).to_have_url(site + "/exercises/#exercise-eye_gazing")
    card = phone.locator("#exercise-eye_gazing")
    expect(card.get_by_role("button", name="Start", exact=True)).to_be_visible()
    expect(card).to_be_in_viewport()
    assert_no_browser_problems(browser_problems)


def test_a_poll_leaves_buttons_as_they_are_and_only_a_sent_form_fades_its_own(site, phone):
    """htmx marks whatever sent a request with ``htmx-request``: a stage that
    polls every 2 s must not dim its buttons below AA contrast each time."""
    phone.goto(site + "/")
    opacities = phone.evaluate(
        """() => {
        const make = (tag) => {
            const holder = document.createElement(tag);
            holder.className = "htmx-request";
            const button = document.createElement("button");
            button.type = "submit";
            button.className = "button";
            button.textContent = "Go";
            holder.append(button);
            document.querySelector("main").append(holder);
            return getComputedStyle(button).opacity;
        };
        return {polling: make("div"), sending: make("form")};
    }"""
    )
    assert opacities == {"polling": "1", "sending": "0.75"}
