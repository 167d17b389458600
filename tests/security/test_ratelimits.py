"""Rate limits hold: after the allowed number, the next attempt is refused with
a status and a message, and nothing is created by it.

The limits are lowered with the ``settings`` fixture: allauth reads
``ACCOUNT_RATE_LIMITS`` at request time, Tend reads ``TEND_RATE_LIMITS`` at
request time, and tests/conftest.py forgets the counters between tests.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from couples import services
from couples.models import CODE_ALPHABET, Invitation, Membership
from tests.conftest import logged_in
from tests.factories import PASSWORD, UserFactory

TOO_MANY_LOGINS = "Too many failed login attempts. Try again later."
TOO_MANY_INVITES = "You&#x27;ve sent many invitations in a short time. Try again later."
TOO_MANY_CODES = "Too many tries. Wait a few minutes, then try again."


@pytest.fixture
def allauth_limits(settings):
    def lower(**limits: str) -> None:
        settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, **limits}

    return lower


@pytest.fixture
def tend_limits(settings):
    def lower(**limits: tuple[int, int]) -> None:
        settings.TEND_RATE_LIMITS = {**settings.TEND_RATE_LIMITS, **limits}

    return lower


def test_allauth_reads_the_lowered_limits_at_request_time(allauth_limits):
    from allauth.account import app_settings

    allauth_limits(signup="2/m/ip")
    assert app_settings.RATE_LIMITS["signup"] == "2/m/ip"


def test_the_production_limits_are_set():
    from django.conf import settings

    assert {"login", "login_failed", "signup", "reset_password"} <= set(
        settings.ACCOUNT_RATE_LIMITS
    )
    assert set(settings.TEND_RATE_LIMITS) == {"invite_send", "invite_code"}


# ---------- logging in ----------


def log_in(password: str, email: str = "alice@example.com"):
    client = Client()
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return client, response


def test_failed_logins_lock_the_address_even_for_the_right_password(alice, allauth_limits):
    allauth_limits(login_failed="10/m/ip,3/300s/key")
    for _ in range(3):
        client, response = log_in("wrong-password")
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
        assert TOO_MANY_LOGINS not in response.content.decode()
    client, response = log_in(PASSWORD)
    assert response.status_code == 200
    assert TOO_MANY_LOGINS in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_logins_lock_an_address_of_many_tries(alice, bob, allauth_limits):
    allauth_limits(login_failed="3/m/ip,5/300s/key")
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        log_in("wrong-password", email=email)
    client, response = log_in(PASSWORD, email="bob@example.com")
    assert TOO_MANY_LOGINS in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logins_are_limited_per_address(alice, allauth_limits):
    allauth_limits(login="3/m/ip")
    for _ in range(3):
        client, response = log_in(PASSWORD)
        assert response.status_code == 302
        assert "_auth_user_id" in client.session
    client, response = log_in(PASSWORD)
    assert response.status_code == 429
    assert "too many requests" in response.content.decode().lower()
    assert "_auth_user_id" not in client.session


# ---------- signing up ----------


def sign_up(email: str):
    return Client().post(
        reverse("account_signup"),
        {
            "display_name": "Newcomer",
            "email": email,
            "password1": "a-new-and-long-passphrase",
            "time_zone": "Europe/Berlin",
        },
    )


def test_sign_ups_are_limited_per_address(db, allauth_limits):
    allauth_limits(signup="2/m/ip")
    for n in range(2):
        assert sign_up(f"new{n}@example.com").status_code == 302
    response = sign_up("new2@example.com")
    assert response.status_code == 429
    assert User.objects.filter(email__startswith="new").count() == 2
    assert not User.objects.filter(email="new2@example.com").exists()
    assert len(mail.outbox) == 2  # one confirmation each, none for the refused one


# ---------- password reset ----------


def reset(email: str):
    return Client().post(reverse("account_reset_password"), {"email": email})


def test_password_resets_are_limited_per_address_of_the_account(alice, allauth_limits):
    allauth_limits(reset_password="20/m/ip,2/m/key")
    for _ in range(2):
        assert reset("alice@example.com").status_code == 302
    response = reset("ALICE@example.com")
    assert response.status_code == 429
    assert len(mail.outbox) == 2


def test_password_resets_are_limited_per_ip(alice, allauth_limits):
    """Unknown addresses get an email too (no enumeration): the IP limit caps that."""
    allauth_limits(reset_password="3/m/ip,5/m/key")
    for n in range(3):
        assert reset(f"stranger{n}@example.com").status_code == 302
    response = reset("alice@example.com")
    assert response.status_code == 429
    assert len(mail.outbox) == 3
    assert all("alice@example.com" not in message.to for message in mail.outbox)


# ---------- sending invitations ----------


@pytest.fixture
def solo_alice(alice):
    services.create_space(alice)
    return alice


def invite(client: Client, email: str, capture):
    with capture(execute=True):
        return client.post(reverse("invite"), {"email": email})


def test_sending_invitations_is_limited(
    solo_alice, tend_limits, django_capture_on_commit_callbacks
):
    tend_limits(invite_send=(2, 3600))
    client = logged_in(solo_alice)
    for n in range(2):
        response = invite(client, f"partner{n}@example.com", django_capture_on_commit_callbacks)
        assert response.status_code == 302
    response = invite(client, "partner2@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert TOO_MANY_INVITES in response.content.decode()
    assert Invitation.objects.count() == 2
    assert not Invitation.objects.filter(email="partner2@example.com").exists()
    assert len(mail.outbox) == 2


def test_renewing_counts_as_sending(solo_alice, tend_limits, django_capture_on_commit_callbacks):
    tend_limits(invite_send=(2, 3600))
    client = logged_in(solo_alice)
    invite(client, "partner@example.com", django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    url = reverse("renew_invitation", args=[invitation.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    invitation.refresh_from_db()
    renewed = invitation.token_hash
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert TOO_MANY_INVITES in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.token_hash == renewed
    assert len(mail.outbox) == 2  # the first and one renewal, not the refused renewal


def test_the_invitation_limit_also_holds_per_address_across_accounts(
    solo_alice, tend_limits, django_capture_on_commit_callbacks
):
    """A second account from the same address doesn't get a fresh allowance."""
    tend_limits(invite_send=(2, 3600))
    for n in range(2):
        invite(logged_in(solo_alice), f"p{n}@example.com", django_capture_on_commit_callbacks)
    other = UserFactory(email="other@example.com")
    services.create_space(other)
    response = invite(logged_in(other), "p9@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert not Invitation.objects.filter(invited_by=other).exists()


# ---------- guessing invitation codes ----------


def wrong_code(n: int) -> str:
    return (CODE_ALPHABET[n] * 8)[:8]


def test_guessing_invitation_codes_is_limited(solo_alice, tend_limits):
    tend_limits(invite_code=(3, 600))
    couple = services.active_membership(solo_alice).couple
    _, _, code = services.issue_invitation(couple, solo_alice)
    guesser = UserFactory(email="guesser@example.com")
    client = logged_in(guesser)
    for n in range(3):
        response = client.post(reverse("join"), {"code": wrong_code(n)})
        assert response.status_code == 422
        assert "We don" in response.content.decode()
    # Even the right code is refused once the tries are used up.
    response = client.post(reverse("join"), {"code": code})
    assert response.status_code == 429
    assert TOO_MANY_CODES in response.content.decode()
    assert not Membership.objects.filter(user=guesser).exists()
    assert Invitation.objects.get().accepted_at is None


def test_code_guesses_are_counted_per_address_across_accounts(solo_alice, tend_limits):
    tend_limits(invite_code=(3, 600))
    couple = services.active_membership(solo_alice).couple
    _, _, code = services.issue_invitation(couple, solo_alice)
    for n in range(3):
        guesser = UserFactory(email=f"guesser{n}@example.com")
        logged_in(guesser).post(reverse("join"), {"code": wrong_code(n)})
    last = UserFactory(email="last@example.com")
    response = logged_in(last).post(reverse("join"), {"code": code})
    assert response.status_code == 429
    assert not Membership.objects.filter(user=last).exists()
