"""Two partners pair up and part in real browsers: sign-up, email links, join, leave."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from couples.models import Membership
from tests.mailsink import MailSink, decoded_text, text_and_html

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-kind-passphrase"


def link_in(body: str, site: str, path_prefix: str) -> str:
    match = re.search(re.escape(site + path_prefix) + r"[^\s\"'<>]+", body)
    assert match, f"no {path_prefix} link in:\n{body}"
    return match.group(0)


def verification_link(sink: MailSink, email: str, site: str) -> str:
    message = sink.wait_for_message(to=email, contains="/accounts/confirm-email/")
    return link_in(decoded_text(message), site, "/accounts/confirm-email/")


def sign_up(page: Page, name: str, email: str | None = None) -> None:
    """Fill the sign-up form by its labels; ``email=None`` keeps a prefilled address."""
    page.get_by_label("Your name").fill(name)
    if email is not None:
        page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Time zone", exact=True).select_option("Europe/Berlin")


def confirm_email(page: Page, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()


def assert_htmx_loaded(page: Page) -> None:
    # htmx loads deferred from /static/ under the CSP nonce; without it every
    # hx-post would silently fall back to a full page load.
    assert page.evaluate("typeof htmx") == "object"


def assert_one_whole_page(page: Page) -> None:
    """One header, one main, no repeated id: catches an htmx swap that nests a page."""
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    repeated_ids = page.evaluate(
        """() => {
            const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
            return [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
        }"""
    )
    assert repeated_ids == [], f"ids used more than once: {repeated_ids}"


def screenshot(page: Page, path: Path) -> None:
    assert_one_whole_page(page)
    # caret="initial": hiding the caret leaves an empty style="" on every text
    # field, which htmx copies onto a swapped-in field: a CSP violation the
    # page itself never causes.
    page.screenshot(path=path, full_page=True, caret="initial")


def assert_no_browser_problems(problems) -> None:
    # CSP violations, failed loads and uncaught exceptions all surface here.
    assert not problems.errors, "\n".join(problems.errors)


def test_two_partners_pair_up_by_email_and_one_leaves(
    site, mail_sink, celery_worker, new_page, browser_problems, artifacts_dir
):
    shots = artifacts_dir / "e2e-pairing"
    shots.mkdir(exist_ok=True)

    # Alice signs up from the landing page and confirms her address.
    alice = new_page("alice")
    alice.goto(site + "/")
    assert_htmx_loaded(alice)
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    sign_up(alice, "Alice", "alice@example.com")
    screenshot(alice, shots / "01-signup.png")
    alice.get_by_role("button", name="Sign up").click()
    expect(alice).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    confirm_email(alice, verification_link(mail_sink, "alice@example.com", site))

    # She starts the space and invites Bob by email.
    expect(alice.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    assert_htmx_loaded(alice)
    alice.get_by_role("button", name="Start our space").click()
    expect(alice.get_by_role("heading", name="Invite your partner")).to_be_visible()
    expect(alice.get_by_role("heading", name="Welcome, Alice")).to_have_count(0)
    assert_one_whole_page(alice)
    alice.get_by_label("Your partner's email").fill("bob@example.com")
    alice.get_by_role("button", name="Invite my partner").click()
    expect(alice.get_by_text("Invitation for bob@example.com")).to_be_visible()
    expect(alice.get_by_label("Invitation link")).to_have_value(re.compile(r"/invite/"))
    screenshot(alice, shots / "02-alice-solo-with-invitation.png")

    # The worker delivers the invitation; Bob opens its link in his own browser.
    invitation = mail_sink.wait_for_message(to="bob@example.com", contains="/invite/")
    celery_worker.wait_for_tasks(1)
    invitation_url = link_in(text_and_html(invitation)[0], site, "/invite/")
    bob = new_page("bob")
    bob.goto(invitation_url)
    expect(bob.get_by_role("heading", name="Alice invites you to Tend")).to_be_visible()
    screenshot(bob, shots / "03-invitation-for-bob.png")
    bob.get_by_role("link", name="Create my account").click()
    expect(bob.get_by_label("Email")).to_have_value("bob@example.com")
    sign_up(bob, "Bob")
    bob.get_by_role("button", name="Sign up").click()
    expect(bob).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    confirm_email(bob, verification_link(mail_sink, "bob@example.com", site))

    # Back on the invitation, now logged in: he joins.
    expect(bob).to_have_url(invitation_url)
    bob.get_by_role("button", name="Join Alice's space").click()
    expect(bob.get_by_role("heading", name="Bob & Alice")).to_be_visible()
    expect(bob.get_by_text("You (Bob)")).to_be_visible()
    alice.reload()
    expect(alice.get_by_role("heading", name="Alice & Bob")).to_be_visible()
    expect(alice.get_by_text("You (Alice)")).to_be_visible()
    expect(alice.get_by_role("heading", name="Invite your partner")).to_have_count(0)
    # A notice from an earlier htmx request must not turn up now, out of date.
    expect(alice.get_by_text("Invitation on its way")).to_have_count(0)
    screenshot(alice, shots / "04-alice-paired.png")
    screenshot(bob, shots / "04-bob-paired.png")

    # Bob leaves after confirming; Alice keeps the space, solo again.
    bob.get_by_role("link", name="Leave this space").click()
    bob.get_by_label("I understand I will lose access to our shared space").check()
    bob.get_by_role("button", name="Leave the space").click()
    expect(bob.get_by_role("heading", name="Welcome, Bob")).to_be_visible()
    alice.reload()
    expect(alice.get_by_role("heading", name="Your space")).to_be_visible()
    expect(alice.get_by_role("heading", name="Invite your partner")).to_be_visible()
    screenshot(alice, shots / "05-alice-after-bob-left.png")
    screenshot(bob, shots / "05-bob-after-leaving.png")

    active = Membership.objects.active().select_related("user")
    assert [m.user.email for m in active] == ["alice@example.com"]
    assert len(mail_sink.received) == 3  # two verifications, one invitation
    assert_no_browser_problems(browser_problems)
