"""A ritual from the catalog, kept together: one partner adds it, the other marks it done.

Nothing is frozen: "today" is the real one. Both partners live in Berlin, the
couple's time zone, so their "today" is the same local day whatever hour the
test runs (with Bob in New York, between 18:00 and midnight there his today
would hold no occurrence of a ritual that started today in Berlin).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from rituals.models import Completion
from tests.e2e.test_pairing import assert_htmx_loaded, assert_no_browser_problems, screenshot
from tests.factories import PASSWORD, UserFactory, make_couple

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEMPLATE = "Daily check-in"  # FREQ=DAILY in rituals/content/catalog.toml
NOTE = "Talked on the balcony"


@pytest.fixture
def partners(db):
    alice = UserFactory(email="alice@example.com", display_name="Alice", time_zone="Europe/Berlin")
    bob = UserFactory(email="bob@example.com", display_name="Bob", time_zone="Europe/Berlin")
    make_couple(alice, bob, name="Alice & Bob")
    return alice, bob


def log_in(page: Page, site: str, email: str) -> None:
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Alice & Bob")).to_be_visible()


def todays_rituals(page: Page):
    """The dashboard's list of today's occurrences (not the "Coming up" one below it)."""
    return page.get_by_role("region", name="Today's rituals").get_by_role("list", name="Today")


def test_one_partner_adds_a_ritual_and_the_other_keeps_it_together(
    site, partners, new_page, browser_problems, artifacts_dir
):
    shots = artifacts_dir / "e2e-rituals"
    shots.mkdir(exist_ok=True)
    _, bob_user = partners
    alice, bob = new_page("alice"), new_page("bob")
    log_in(alice, site, "alice@example.com")
    log_in(bob, site, "bob@example.com")

    # Alice adds the daily check-in from the catalog.
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="Rituals").click()
    expect(alice.get_by_role("heading", name="Rituals", exact=True)).to_be_visible()
    screenshot(alice, shots / "01-alice-rituals-catalog.png")
    alice.get_by_role("button", name=f"Add “{TEMPLATE}”").click()
    expect(alice.get_by_role("heading", name=TEMPLATE, level=1)).to_be_visible()
    expect(alice.get_by_text(f"“{TEMPLATE}” is part of your space now.")).to_be_visible()
    alice.get_by_role("link", name="Rituals", exact=True).first.click()
    ours = alice.get_by_role("region", name="Ours")
    expect(ours.get_by_role("link", name=TEMPLATE)).to_be_visible()
    expect(alice.get_by_role("button", name=f"Add “{TEMPLATE}”")).to_have_count(0)
    screenshot(alice, shots / "02-alice-rituals-added.png")

    # Bob finds it on his dashboard, today, and marks it kept together with a note.
    bob.goto(site + "/")
    assert_htmx_loaded(bob)
    row = todays_rituals(bob).locator("> li").filter(has=bob.get_by_role("link", name=TEMPLATE))
    expect(row).to_have_count(1)
    # The card is compact: the note and "Together" open on demand.
    expect(row.get_by_label(f"A note for {TEMPLATE} (optional)")).to_be_hidden()
    screenshot(bob, shots / "03-bob-dashboard-before.png")
    row.get_by_text("Note, or just me?").click()
    expect(row.get_by_label("Together")).to_be_checked()
    row.get_by_label(f"A note for {TEMPLATE} (optional)").fill(NOTE)
    bob.evaluate("window.tendTestNoReload = true")
    with bob.expect_response(re.compile(r"/rituals/\d+/keep/$")) as kept:
        row.get_by_role("button", name="We did it").click()
    assert kept.value.status == 200
    assert kept.value.request.headers.get("hx-request") == "true"
    expect(row.get_by_text("Kept together")).to_be_visible()
    expect(row.get_by_text(f"You marked it kept: “{NOTE}”")).to_be_visible()
    expect(row.get_by_role("button", name="Undo my mark")).to_be_visible()
    # The row was swapped in place: the page (and its JS state) is the same one.
    assert bob.evaluate("window.tendTestNoReload") is True
    screenshot(bob, shots / "04-bob-dashboard-after.png")

    completion = Completion.objects.get()
    assert (completion.user, completion.together, completion.note) == (bob_user, True, NOTE)

    # Alice sees Bob's mark, then the streak on the ritual's page.
    alice.goto(site + "/")
    today = todays_rituals(alice)
    expect(today.get_by_text(f"Bob marked it kept: “{NOTE}”")).to_be_visible()
    expect(today.get_by_text("Kept together")).to_be_visible()
    today.get_by_role("link", name=TEMPLATE).click()
    expect(alice.get_by_role("heading", name=TEMPLATE, level=1)).to_be_visible()
    expect(alice.locator(".streak__count")).to_have_text("1")
    expect(alice.locator(".streak")).to_have_text("1 time in a row")
    screenshot(alice, shots / "05-alice-ritual-page.png")

    assert_no_browser_problems(browser_problems)
