"""Live exercises on two devices, in real browsers: invitations, timers, turns, sealed answers.

Each partner's page learns of the other's moves only by polling (every 2 s),
never by a reload, so these tests wait on what the page shows rather than on
fixed delays. Before a page acts, the test waits until it shows every change
made so far: a poll landing in the middle of a click is then impossible,
because the session's version no longer moves until that page acts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from exercises.models import Entry, Session
from tests.e2e.test_pairing import assert_htmx_loaded, assert_no_browser_problems, screenshot
from tests.e2e.test_rituals import log_in
from tests.factories import UserFactory, make_couple

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Polls run every 2 s; a change shows on the other page within one interval
# plus a request, so this is generous without hiding a poll that stopped.
FOLLOW_MS = 6_000
SECRET = "my secret answer xyz"
SESSION_URL = re.compile(r"/exercises/s/\d+/$")


@pytest.fixture
def pair(site, new_page) -> tuple[Page, Page]:
    """Alice (seat 1) and Bob (seat 2), a couple, each logged in on their own device."""
    alice_user = UserFactory(
        email="alice@example.com", display_name="Alice", time_zone="Europe/Berlin"
    )
    bob_user = UserFactory(email="bob@example.com", display_name="Bob", time_zone="Europe/Berlin")
    make_couple(alice_user, bob_user, name="Alice & Bob")
    alice, bob = new_page("alice"), new_page("bob")
    log_in(alice, site, "alice@example.com")
    log_in(bob, site, "bob@example.com")
    return alice, bob


@pytest.fixture
def shots(artifacts_dir: Path) -> Path:
    folder = artifacts_dir / "e2e-exercises"
    folder.mkdir(exist_ok=True)
    return folder


# --- helpers ----------------------------------------------------------------


def open_start_form(page: Page, title: str):
    """The exercise's card on the Exercises page, its "Start …" disclosure opened."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exercises").click()
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )
    # <summary> has no ARIA role, so it is found by its text.
    card.get_by_text(f"Start {title.lower()}", exact=True).click()
    card.get_by_label("Each on our own device").check()
    return card


def start_exercise(page: Page, title: str) -> None:
    open_start_form(page, title).get_by_role("button", name="Start", exact=True).click()
    wait_for_session_page(page)


def join_from_dashboard(page: Page, partner: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Our space").click()
    page.get_by_role("link", name=f"Join {partner}").click()
    wait_for_session_page(page)


def wait_for_session_page(page: Page) -> None:
    # Loaded, so the deferred htmx has run: an early click would otherwise
    # fall back to a plain form post and hide a broken htmx.
    page.wait_for_url(SESSION_URL, wait_until="load")
    assert_htmx_loaded(page)


def stage(page: Page):
    return page.locator("#stage")


def expect_step(page: Page, title: str, timeout: int = FOLLOW_MS) -> None:
    expect(stage(page).get_by_role("heading", name=title, exact=True)).to_be_visible(
        timeout=timeout
    )


def act(page: Page, label: str) -> None:
    stage(page).get_by_role("button", name=label, exact=True).click()


def expect_finished(*pages: Page) -> None:
    for page in pages:
        expect_step(page, "Done. Thank you both.")


def open_todays_question(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exercises").click()
    page.get_by_role("link", name="Today's question").click()
    expect(page.get_by_role("heading", name="Today's question", level=1)).to_be_visible()


def remaining_now(page: Page) -> tuple[int, float]:
    """The timer's ``data-remaining-ms`` and the page's clock at the moment it was read."""
    remaining, clock = page.evaluate(
        """() => [Number(document.querySelector("[data-timer]").dataset.remainingMs), Date.now()]"""
    )
    return remaining, clock


WATCH_FOR_LINK = """(name) => {
    window.tendSeenAt = null;
    const check = () => {
        if (window.tendSeenAt !== null) return;
        for (const link of document.querySelectorAll("a")) {
            if (link.textContent.trim() === name) {
                window.tendSeenAt = Date.now();
                observer.disconnect();
            }
        }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {childList: true, subtree: true});
    check();
}"""


# --- the tests --------------------------------------------------------------


def test_eye_gazing_invites_the_partner_and_runs_one_timer_on_both_screens(
    pair, shots, browser_problems
):
    alice, bob = pair
    assert_htmx_loaded(bob)
    # Bob's dashboard is open before anything starts; it must update by itself.
    expect(bob.locator("#waiting-card")).to_be_attached()
    expect(bob.get_by_role("link", name="Join Alice")).to_have_count(0)
    bob.evaluate("window.tendNoReload = true")
    bob.evaluate(WATCH_FOR_LINK, "Join Alice")

    card = open_start_form(alice, "Eye gazing")
    card.get_by_label("How long").select_option(label="Another length")
    card.get_by_label("Minutes (for another length)").fill("0.25")
    clicked_at = time.time() * 1000  # the same system clock as the pages' Date.now()
    card.get_by_role("button", name="Start", exact=True).click()

    # The invitation comes first on the dashboard, above today's rituals.
    waiting = bob.get_by_role("region", name="Alice is waiting for you")
    expect(waiting.get_by_role("link", name="Join Alice")).to_be_visible(timeout=FOLLOW_MS)
    # The observer noted the moment the link arrived, free of expect()'s retry rhythm.
    appeared_after_ms = bob.evaluate("window.tendSeenAt") - clicked_at
    print(f"\nwaiting card appeared on Bob's dashboard {appeared_after_ms:.0f} ms after the click")
    assert appeared_after_ms <= 2_500, f"the card took {appeared_after_ms:.0f} ms"
    expect(waiting.get_by_role("status")).to_have_text(
        re.compile(r"Alice\s+started\s+eye gazing\s+and is waiting for you\.")
    )
    assert bob.evaluate("window.tendNoReload") is True  # swapped in place, not reloaded
    waiting_box = waiting.bounding_box()
    rituals_box = bob.get_by_role("region", name="Today's rituals").bounding_box()
    assert waiting_box["y"] + waiting_box["height"] <= rituals_box["y"]
    screenshot(bob, shots / "01-bob-dashboard-waiting-card.png")
    session = Session.objects.get()
    assert (session.kind, session.mode, session.settings["seconds"]) == (
        "eye_gazing",
        "two_devices",
        15,
    )

    wait_for_session_page(alice)
    waiting.get_by_role("link", name="Join Alice").click()
    wait_for_session_page(bob)
    expect_step(alice, "Get comfortable")
    expect_step(bob, "Get comfortable")

    # One "Next" moves both.
    act(alice, "Next")
    expect_step(alice, "Eyes on each other")
    expect_step(bob, "Eyes on each other")

    # The timer starts when both are ready, not before.
    act(alice, "I'm ready")
    expect(stage(alice).get_by_role("status")).to_have_text("You're ready. Waiting for Bob…")
    expect(stage(bob).get_by_role("status")).to_have_text("Alice is ready.", timeout=FOLLOW_MS)
    act(bob, "I'm ready")
    for page in (alice, bob):
        expect(stage(page).get_by_role("button", name="Pause")).to_be_visible(timeout=FOLLOW_MS)

    # Both screens count down together: read both as close together as possible
    # and correct for the time between the two reads.
    alice_ms, alice_clock = remaining_now(alice)
    bob_ms, bob_clock = remaining_now(bob)
    read_gap = bob_clock - alice_clock
    disagreement = abs((bob_ms + read_gap) - alice_ms)
    print(
        f"remaining: Alice {alice_ms} ms, Bob {bob_ms} ms, read {read_gap:.0f} ms apart: "
        f"they differ by {disagreement:.0f} ms"
    )
    assert 0 < alice_ms <= 15_000 and 0 < bob_ms <= 15_000
    assert disagreement <= 1_000
    screenshot(alice, shots / "02-alice-countdown-running.png")
    screenshot(bob, shots / "02-bob-countdown-running.png")
    # It only goes down, also across the polls (204s) that arrive meanwhile.
    readings = {"alice": [alice_ms], "bob": [bob_ms]}
    for _ in range(11):
        alice.wait_for_timeout(250)
        readings["alice"].append(remaining_now(alice)[0])
        readings["bob"].append(remaining_now(bob)[0])
    for who, values in readings.items():
        assert values[-1] < values[0] - 2_000, f"{who}'s countdown: {values}"
        assert values == sorted(values, reverse=True), f"{who}'s countdown went up: {values}"

    # Time's up on both.
    for page in (alice, bob):
        expect(page.get_by_role("timer", name="Time left")).to_have_text("0:00", timeout=20_000)
        expect(page.locator("[data-timer]")).to_have_class(re.compile(r"\btimer--done\b"))
    screenshot(bob, shots / "03-bob-time-is-up.png")

    # Alice moves on and skips the reflection; Bob's page follows to the end.
    act(alice, "Continue")
    expect_step(alice, "Afterwards")
    act(alice, "Skip this part")
    expect_step(alice, "What you both noticed")
    expect(stage(alice).get_by_text("Nothing was written here.")).to_be_visible()
    act(alice, "Next")
    expect_finished(alice, bob)
    screenshot(bob, shots / "04-bob-eye-gazing-done.png")

    session.refresh_from_db()
    assert session.status == Session.Status.FINISHED
    assert_no_browser_problems(browser_problems)


def test_temperature_reading_takes_turns_and_shares_notes(pair, shots, browser_problems):
    alice, bob = pair
    start_exercise(alice, "Daily temperature reading")
    expect_step(alice, "How it works")
    join_from_dashboard(bob, "Alice")
    expect_step(bob, "How it works")
    act(alice, "Next")

    # Appreciations: Alice (seat 1) speaks first, Bob listens and can't end her turn.
    expect_step(alice, "Something I appreciated")
    expect_step(bob, "Something I appreciated")
    expect(stage(bob).get_by_role("status")).to_have_text("Alice's turn: you listen.")
    expect(stage(bob).get_by_role("button", name="I'm done")).to_have_count(0)
    expect(stage(alice).get_by_role("status")).to_have_text("Your turn.")
    stage(alice).get_by_label("A note to keep (optional)").fill("Thank you for the soup.")
    expect(stage(alice).get_by_label("Both of us")).to_be_checked()
    screenshot(bob, shots / "05-bob-listening.png")
    act(alice, "I'm done")
    expect(stage(alice).get_by_role("status")).to_have_text("Bob's turn: you listen.")
    expect(stage(alice).get_by_role("button", name="I'm done")).to_have_count(0)

    # Bob's page learns it's his turn by polling, with Alice's shared note.
    expect(stage(bob).get_by_role("status")).to_have_text("Your turn.", timeout=FOLLOW_MS)
    notes = stage(bob).get_by_role("list").filter(has_text="Thank you for the soup.")
    expect(notes.get_by_role("listitem")).to_have_text(re.compile(r"^\s*Alice\s+Thank you"))
    screenshot(bob, shots / "06-bob-his-turn-with-alices-note.png")
    act(bob, "I'm done")

    # The three middle parts may be skipped, by either partner.
    expect_step(bob, "What's new with me")
    act(bob, "Skip this part")
    expect_step(bob, "Something I'm wondering about")
    expect_step(alice, "Something I'm wondering about")
    act(alice, "Skip this part")
    expect_step(alice, "A small request")
    act(alice, "Skip this part")

    # Hopes can't be skipped: both take a turn.
    expect_step(alice, "Hopes and wishes")
    expect(stage(alice).get_by_role("button", name="Skip this part")).to_have_count(0)
    act(alice, "I'm done")
    expect_step(bob, "Hopes and wishes")
    expect(stage(bob).get_by_role("status")).to_have_text("Your turn.", timeout=FOLLOW_MS)
    act(bob, "I'm done")
    expect_finished(bob, alice)

    notes = Entry.objects.filter(session__kind="temperature")
    assert [(e.prompt_key, e.text, e.visibility) for e in notes] == [
        ("temperature:appreciations", "Thank you for the soup.", "shared")
    ]
    assert Session.objects.get().status == Session.Status.FINISHED
    assert_no_browser_problems(browser_problems)


def test_love_maps_keeps_the_answer_sealed_until_the_guess_is_in(pair, shots, browser_problems):
    alice, bob = pair
    start_exercise(alice, "Love maps")
    expect_step(alice, "How it works")
    join_from_dashboard(bob, "Alice")
    expect_step(bob, "How it works")
    act(alice, "Next")

    # Alice, whom the question is about, answers first.
    expect_step(alice, "Your answer")
    stage(alice).get_by_label("Your answer").fill(SECRET)
    act(alice, "Seal my answer")
    expect(stage(alice).get_by_role("status")).to_have_text("Bob is answering…")

    # Bob guesses without the answer anywhere in his page.
    expect_step(alice, "Your guess")
    expect_step(bob, "Your guess", timeout=FOLLOW_MS)
    assert SECRET not in bob.content()
    stage(bob).get_by_label("Your answer").fill("bob guess abc")
    assert SECRET not in bob.content()
    screenshot(bob, shots / "07-bob-guessing-sealed.png")
    act(bob, "Seal my answer")

    # Both see both, side by side.
    for page in (bob, alice):
        expect_step(page, "Side by side", timeout=FOLLOW_MS)
        expect(stage(page).get_by_text(SECRET)).to_be_visible()
        expect(stage(page).get_by_text("bob guess abc")).to_be_visible()
    expect(stage(bob).get_by_role("status")).to_have_text("Alice is saying how close you came…")
    screenshot(alice, shots / "08-alice-love-maps-reveal.png")
    screenshot(bob, shots / "08-bob-love-maps-reveal.png")

    stage(alice).get_by_label("Close", exact=True).check()
    stage(alice).get_by_label("The real story (optional)").fill("It was the lighthouse trip.")
    act(alice, "Tell Bob")
    expect_step(alice, "Another round?")
    expect_step(bob, "Another round?")
    act(alice, "That's enough for today")
    expect_finished(alice, bob)

    rating = Entry.objects.get(prompt_key="love_maps:reveal-1-rating")
    assert (rating.data["rating"], rating.text) == ("close", "It was the lighthouse trip.")
    assert_no_browser_problems(browser_problems)


def test_daily_question_stays_sealed_until_both_answered(pair, shots, browser_problems):
    alice, bob = pair
    open_todays_question(alice)
    question = alice.locator("#daily-q").inner_text()
    alice.get_by_label("Your answer").fill("alice daily answer 123")
    alice.get_by_role("button", name="Seal my answer").click()
    expect(alice.get_by_text("Sealed until your partner answers too.")).to_be_visible()
    expect(alice.get_by_text("alice daily answer 123")).to_be_visible()
    screenshot(alice, shots / "09-alice-daily-before.png")

    # Bob sees the same question, that Alice answered, and nothing of her answer.
    open_todays_question(bob)
    expect(bob.locator("#daily-q")).to_have_text(question)
    expect(bob.get_by_text("Your partner has answered.")).to_be_visible()
    assert "alice daily answer" not in bob.content()
    screenshot(bob, shots / "09-bob-daily-before.png")
    bob.get_by_label("Your answer").fill("bob daily answer 456")
    bob.get_by_role("button", name="Seal my answer").click()
    expect(bob.get_by_text("alice daily answer 123")).to_be_visible()
    expect(bob.get_by_text("bob daily answer 456")).to_be_visible()
    screenshot(bob, shots / "10-bob-daily-after.png")

    alice.reload()
    expect(alice.get_by_text("alice daily answer 123")).to_be_visible()
    expect(alice.get_by_text("bob daily answer 456")).to_be_visible()
    expect(alice.get_by_text("Sealed until your partner answers too.")).to_have_count(0)
    screenshot(alice, shots / "10-alice-daily-after.png")
    assert_no_browser_problems(browser_problems)


def test_words_being_typed_when_the_partner_ends_are_handed_back(pair, shots, browser_problems):
    """Bob is writing his check-in answer when Alice ends the exercise: his page
    redraws as ended, and what he typed is still there for him to copy."""
    alice, bob = pair
    start_exercise(alice, "Weekly check-in")
    join_from_dashboard(bob, "Alice")
    while not stage(alice).get_by_role("textbox").count():
        act(alice, "Next")
        alice.wait_for_timeout(100)
    box = stage(bob).get_by_label("Your answer")
    expect(box).to_be_visible(timeout=FOLLOW_MS)
    box.fill("half a thought about our week")
    alice.get_by_role("button", name="End the exercise here").click()
    expect_step(bob, "Ended.")
    kept = stage(bob).get_by_label(re.compile("What you were writing was not sent"))
    expect(kept).to_be_visible()
    expect(kept).to_have_value("half a thought about our week")
    screenshot(bob, shots / "09-bob-unsent-words-kept.png")
    assert_no_browser_problems(browser_problems)
