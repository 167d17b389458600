"""Pairing through the pages: what each person sees, and every failure as a clear page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from couples import services
from couples.models import Invitation
from tests.conftest import logged_in
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def solo_alice(alice):
    services.create_space(alice)
    return alice


def issue(user, email: str = ""):
    couple = services.active_membership(user).couple
    return services.issue_invitation(couple, user, email=email)


def test_a_new_user_is_offered_to_start_a_space_or_join(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 200
    assert b"Start our space" in response.content
    assert b"Invitation code" in response.content


def test_starting_a_space_shows_the_invite_path(alice, alice_client):
    response = alice_client.post(reverse("create_space"), {"name": "Us"}, follow=True)
    assert response.status_code == 200
    assert b"Invite your partner" in response.content
    assert services.active_membership(alice).couple.name == "Us"


def test_inviting_by_email_sends_the_link_and_code_and_shows_them(
    solo_alice, alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("invite"), {"email": "bob@example.com"}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    link = re.search(r'value="(http[^"]+/invite/[^"]+)"', html).group(1)
    code = re.search(r'id="invite-code">([A-Z0-9-]+)<', html).group(1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"]
    assert link in message.body and code in message.body
    html_part = message.alternatives[0].content
    assert link in html_part and code in html_part


def test_inviting_without_email_gives_a_link_and_code_to_share(solo_alice, alice_client):
    response = alice_client.post(reverse("invite"), {"email": ""}, follow=True)
    assert b"Invitation link" in response.content
    assert mail.outbox == []


def test_an_invalid_email_re_renders_the_form_with_422_and_saves_nothing(solo_alice, alice_client):
    response = alice_client.post(
        reverse("invite"), {"email": "not-an-email"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert b"Enter a valid email address" in response.content
    assert b'id="invite-panel"' in response.content
    assert b"<html" not in response.content  # the fragment only
    assert not Invitation.objects.exists()


def test_inviting_yourself_is_refused_kindly(solo_alice, alice_client):
    response = alice_client.post(reverse("invite"), {"email": "ALICE@example.com"})
    assert response.status_code == 422
    assert b"your own address" in response.content
    assert not Invitation.objects.exists()


def test_htmx_invite_returns_the_panel_with_the_secrets(solo_alice, alice_client):
    response = alice_client.post(reverse("invite"), {"email": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"Invitation link" in response.content
    assert b"<html" not in response.content


def test_renew_and_revoke_from_the_dashboard(solo_alice, alice_client):
    invitation, token, _ = issue(solo_alice)
    alice_client.post(reverse("renew_invitation", args=[invitation.pk]))
    assert Invitation.find_by_token(token) is None
    alice_client.post(reverse("revoke_invitation", args=[invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    response = alice_client.get("/")
    assert b"Invite my partner" in response.content


def test_renewing_an_emailed_invitation_sends_it_again(
    solo_alice, alice_client, django_capture_on_commit_callbacks
):
    invitation, _, _ = issue(solo_alice, email="bob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("renew_invitation", args=[invitation.pk]))
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.send_count == 1


def test_the_invitation_page_for_a_visitor_offers_signup_with_email_prefilled(solo_alice, client):
    invitation, token, _ = issue(solo_alice, email="bob@example.com")
    response = client.get(reverse("invitation", args=[token]))
    assert response.status_code == 200
    assert b"Alice invites you" in response.content
    assert b"email=bob%40example.com" in response.content
    # The session remembers which invitation, not its link (tests/security/test_stored_secrets.py).
    pending = client.session["pending_invitation"]
    assert pending == {"id": invitation.pk, "token_hash": invitation.token_hash}


def test_a_visitor_who_signs_up_through_the_invitation_lands_on_it_after_confirming(
    solo_alice, client
):
    _, token, _ = issue(solo_alice, email="bob@example.com")
    client.get(reverse("invitation", args=[token]))
    response = client.post(
        reverse("account_signup"),
        {
            "display_name": "Bob",
            "email": "bob@example.com",
            "password1": PASSWORD,
            "time_zone": "America/New_York",
        },
    )
    assert response.status_code == 302
    confirmation = mail.outbox[-1]
    key_url = re.search(r"https?://\S+/accounts/confirm-email/\S+/", confirmation.body).group(0)
    path = key_url.split("://", 1)[1].split("/", 1)[1]
    response = client.post("/" + path)
    assert response.status_code == 302
    assert response.url == reverse("invitation", args=[token])
    response = client.post(response.url, follow=True)
    assert b"You now share a space with Alice" in response.content
    bob = services.active_membership(solo_alice).couple.memberships.get(seat=2).user
    assert bob.display_name == "Bob"
    assert bob.time_zone == "America/New_York"


def test_a_logged_in_user_confirms_before_joining(solo_alice, bob_client, bob):
    services.create_space(bob)
    _, token, _ = issue(solo_alice)
    response = bob_client.get(reverse("invitation", args=[token]))
    assert response.status_code == 200
    assert b"Join Alice's space" in response.content
    assert b"will be closed" in response.content  # bob's solo space
    assert services.active_membership(bob).couple != services.active_membership(solo_alice).couple
    bob_client.post(reverse("invitation", args=[token]))
    assert services.active_membership(bob).couple == services.active_membership(solo_alice).couple


@pytest.mark.parametrize(
    ("make_problem", "status", "text"),
    [
        ("unknown", 404, b"We don&#x27;t know this invitation"),
        ("expired", 410, b"has expired"),
        ("used", 410, b"already been used"),
        ("revoked", 410, b"was withdrawn"),
        ("own", 409, b"your own invitation"),
        ("paired", 409, b"already share a space"),
        ("full", 409, b"already has two partners"),
    ],
)
def test_each_failure_is_a_clear_page(solo_alice, bob, make_problem, status, text):
    invitation, token, _ = issue(solo_alice)
    visitor = logged_in(bob)
    if make_problem == "unknown":
        token = "no-such-token"
    elif make_problem == "expired":
        invitation.expires_at = timezone.now() - timedelta(minutes=1)
        invitation.save()
    elif make_problem == "used":
        services.accept_invitation(UserFactory(), invitation.pk)
        services.leave_couple(
            services.active_membership(solo_alice).couple.memberships.get(seat=2).user
        )
    elif make_problem == "revoked":
        invitation.revoke()
    elif make_problem == "own":
        visitor = logged_in(solo_alice)
    elif make_problem == "paired":
        other = UserFactory()
        services.create_space(bob)
        bobs_invitation, _, _ = issue(bob)
        services.accept_invitation(other, bobs_invitation.pk)
    elif make_problem == "full":
        services.accept_invitation(UserFactory(), invitation.pk)
        invitation.refresh_from_db()
        invitation.accepted_at = None
        invitation.revoked_at = None
        invitation.save()
    for method in ("get", "post"):
        response = getattr(visitor, method)(reverse("invitation", args=[token]))
        assert response.status_code == status, method
        assert text in response.content, method


def test_an_expired_link_says_so_to_visitors_too(solo_alice, client):
    _, token, _ = issue(solo_alice)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = client.get(reverse("invitation", args=[token]))
    assert response.status_code == 410
    assert b"has expired" in response.content


def test_joining_by_code(solo_alice, bob, bob_client):
    _, _, code = issue(solo_alice)
    response = bob_client.post(reverse("join"), {"code": code.lower()}, follow=True)
    assert b"You now share a space with Alice" in response.content
    assert services.active_membership(bob).couple == services.active_membership(solo_alice).couple


@pytest.mark.parametrize(
    ("code", "message"),
    [("abc", b"eight letters and digits"), ("ZZZZ-ZZZZ", b"We don&#x27;t know this code")],
)
def test_a_wrong_code_is_explained_on_the_form(bob_client, code, message):
    response = bob_client.post(reverse("join"), {"code": code}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert message in response.content
    assert b'id="code-form"' in response.content


def test_a_code_for_a_full_space_is_explained_on_the_form(solo_alice, bob_client, charlie):
    invitation, _, code = issue(solo_alice)
    services.leave_couple(charlie)
    services.accept_invitation(charlie, invitation.pk)
    response = bob_client.post(reverse("join"), {"code": code})
    assert response.status_code == 409
    assert b"already been used" in response.content


def test_code_guessing_is_rate_limited(bob_client, settings):
    settings.TEND_RATE_LIMITS = {
        **settings.TEND_RATE_LIMITS,
        "invite_code": {"account": (3, 600), "address": (60, 600)},
    }
    for _ in range(3):
        assert bob_client.post(reverse("join"), {"code": "ZZZZ-ZZZZ"}).status_code == 422
    response = bob_client.post(reverse("join"), {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 429
    assert b"Too many tries" in response.content


def test_a_correct_code_is_refused_once_the_limit_is_reached(solo_alice, bob, bob_client, settings):
    settings.TEND_RATE_LIMITS = {
        **settings.TEND_RATE_LIMITS,
        "invite_code": {"account": (2, 600), "address": (60, 600)},
    }
    _, _, code = issue(solo_alice)
    bob_client.post(reverse("join"), {"code": "ZZZZ-ZZZZ"})
    bob_client.post(reverse("join"), {"code": "ZZZZ-ZZZZ"})
    assert bob_client.post(reverse("join"), {"code": code}).status_code == 429
    assert services.active_membership(bob) is None


def test_sending_invitations_is_rate_limited(
    solo_alice, alice_client, settings, django_capture_on_commit_callbacks
):
    settings.TEND_RATE_LIMITS = {
        **settings.TEND_RATE_LIMITS,
        "invite_send": {"account": (2, 3600), "address": (60, 3600)},
    }
    for n in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(reverse("invite"), {"email": f"b{n}@example.com"})
        assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("invite"), {"email": "b3@example.com"})
    assert response.status_code == 429
    assert b"many invitations" in response.content
    assert len(mail.outbox) == 2


def test_leaving_needs_confirmation(couple, bob, bob_client):
    response = bob_client.post(reverse("leave"), {})
    assert response.status_code == 422
    assert b"Tick the box" in response.content
    assert services.active_membership(bob) is not None


def test_leaving_ends_access_at_once(couple, alice, bob, bob_client, alice_client):
    response = bob_client.post(reverse("leave"), {"confirm": "on"}, follow=True)
    assert b"Start our space" in response.content
    assert services.active_membership(bob) is None
    assert bob_client.get(reverse("leave")).status_code == 302
    dashboard = alice_client.get("/")
    assert b"Invite your partner" in dashboard.content
    assert b"Your partner's place" in dashboard.content
    assert b'class="member__name">Bob<' not in dashboard.content


def test_the_dashboard_shows_both_partners(couple, alice_client, bob_client):
    for client in (alice_client, bob_client):
        page = client.get("/").content
        assert b"Alice" in page and b"Bob" in page
        assert b"Invite your partner" not in page


def test_the_landing_page_for_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sign up" in response.content
