"""Rate limits hold: after the allowed number, the next attempt is refused with
a status and a message, and nothing is created by it.

The limits are lowered with the ``settings`` fixture: allauth reads
``ACCOUNT_RATE_LIMITS`` at request time, Tend reads ``TEND_RATE_LIMITS`` at
request time, and tests/conftest.py forgets the counters between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from couples import services
from couples.models import CODE_ALPHABET, Invitation, Membership
from tests.conftest import ROOT, logged_in
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
    """``tend_limits("invite_code", account=(3, 600))``: other scopes stay as set."""

    def lower(action: str, **scopes: tuple[int, int]) -> None:
        current = settings.TEND_RATE_LIMITS
        settings.TEND_RATE_LIMITS = {**current, action: {**current[action], **scopes}}

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
    for scopes in settings.TEND_RATE_LIMITS.values():
        (per_account, window), (per_address, address_window) = scopes["account"], scopes["address"]
        assert window == address_window
        # Generous: several people at one address each get their whole allowance.
        assert per_address >= 5 * per_account


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
    tend_limits("invite_send", account=(2, 3600))
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
    tend_limits("invite_send", account=(2, 3600))
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


def until_refused(attempt, ok: int, most: int = 100) -> int:
    """Make attempts (each answering ``ok``) until one is refused with 429;
    return how many were allowed."""
    for allowed in range(most):
        status = attempt(allowed)
        if status == 429:
            return allowed
        assert status == ok
    raise AssertionError(f"{most} attempts, none refused")


def test_one_account_out_of_invitations_leaves_others_at_its_address_theirs(
    solo_alice, django_capture_on_commit_callbacks
):
    """A dormitory shares one address: Alice using up her allowance (at the
    production limits) doesn't stop her neighbour from inviting his partner."""
    client = logged_in(solo_alice)
    allowed = until_refused(
        lambda _: invite(client, "", django_capture_on_commit_callbacks).status_code, ok=302
    )
    assert 0 < allowed < 100
    for _ in range(5):
        assert invite(client, "", django_capture_on_commit_callbacks).status_code == 429
    neighbour = UserFactory(email="neighbour@example.com")
    services.create_space(neighbour)
    response = invite(logged_in(neighbour), "p@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert Invitation.objects.filter(invited_by=neighbour).exists()


def test_the_address_ceiling_holds_across_accounts(
    solo_alice, tend_limits, django_capture_on_commit_callbacks
):
    """Many accounts at one address don't get unlimited invitations."""
    tend_limits("invite_send", account=(2, 3600), address=(3, 3600))
    for n in range(2):
        invite(logged_in(solo_alice), f"p{n}@example.com", django_capture_on_commit_callbacks)
    second, third = UserFactory(email="second@example.com"), UserFactory(email="third@example.com")
    for user in (second, third):
        services.create_space(user)
    assert invite(logged_in(second), "", django_capture_on_commit_callbacks).status_code == 302
    response = invite(logged_in(third), "p9@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert TOO_MANY_INVITES in response.content.decode()
    assert not Invitation.objects.filter(invited_by=third).exists()


def test_the_ceiling_is_per_address(solo_alice, tend_limits, django_capture_on_commit_callbacks):
    tend_limits("invite_send", account=(5, 3600), address=(1, 3600))
    invite(logged_in(solo_alice), "", django_capture_on_commit_callbacks)
    other = UserFactory(email="other@example.com")
    services.create_space(other)
    elsewhere = logged_in(other)
    elsewhere.defaults["REMOTE_ADDR"] = "192.0.2.7"
    assert invite(elsewhere, "", django_capture_on_commit_callbacks).status_code == 302


# ---------- guessing invitation codes ----------


def wrong_code(n: int) -> str:
    return (CODE_ALPHABET[n] * 8)[:8]


def test_guessing_invitation_codes_is_limited(solo_alice, tend_limits):
    tend_limits("invite_code", account=(3, 600))
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


def test_one_guesser_does_not_lock_out_others_at_the_same_address(solo_alice):
    """At the production limits: a guesser who keeps trying after being stopped
    leaves the partner in the same café free to type the right code."""
    couple = services.active_membership(solo_alice).couple
    _, _, code = services.issue_invitation(couple, solo_alice)
    guesser = logged_in(UserFactory(email="guesser@example.com"))
    allowed = until_refused(
        lambda n: guesser.post(reverse("join"), {"code": wrong_code(n % 20)}).status_code, ok=422
    )
    assert 0 < allowed < 100
    for n in range(20):
        assert guesser.post(reverse("join"), {"code": wrong_code(n)}).status_code == 429
    partner = UserFactory(email="partner@example.com")
    response = logged_in(partner).post(reverse("join"), {"code": code})
    assert response.status_code == 302
    assert Membership.objects.active().filter(user=partner, couple=couple).exists()


def test_code_guesses_of_many_accounts_meet_the_address_ceiling(solo_alice, tend_limits):
    tend_limits("invite_code", account=(3, 600), address=(5, 600))
    couple = services.active_membership(solo_alice).couple
    _, _, code = services.issue_invitation(couple, solo_alice)
    for n, tries in enumerate((3, 2)):
        guesser = logged_in(UserFactory(email=f"guesser{n}@example.com"))
        for t in range(tries):
            assert guesser.post(reverse("join"), {"code": wrong_code(t)}).status_code == 422
    last = UserFactory(email="last@example.com")
    response = logged_in(last).post(reverse("join"), {"code": code})
    assert response.status_code == 429
    assert TOO_MANY_CODES in response.content.decode()
    assert not Membership.objects.filter(user=last).exists()


# ---------- behind a reverse proxy ----------

PROXY = "10.0.0.2"  # every request arrives from the proxy


def from_client(user, address: str | None, claimed: str = "") -> Client:
    """``user``'s requests through the proxy, which appends ``address`` to
    whatever X-Forwarded-For the client sent (``claimed``)."""
    client = logged_in(user)
    client.defaults["REMOTE_ADDR"] = PROXY
    if address:
        forwarded = f"{claimed}, {address}" if claimed else address
        client.defaults["HTTP_X_FORWARDED_FOR"] = forwarded
    return client


def test_behind_a_proxy_the_ceiling_counts_each_client_not_the_proxy(
    solo_alice, tend_limits, settings
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    tend_limits("invite_code", account=(10, 600), address=(3, 600))
    couple = services.active_membership(solo_alice).couple
    _, _, code = services.issue_invitation(couple, solo_alice)
    guesser = from_client(UserFactory(email="guesser@example.com"), "198.51.100.1")
    for n in range(3):
        assert guesser.post(reverse("join"), {"code": wrong_code(n)}).status_code == 422
    assert guesser.post(reverse("join"), {"code": wrong_code(3)}).status_code == 429
    # A second account at the guesser's address, claiming another one, is still him.
    spoofer = from_client(UserFactory(email="spoofer@example.com"), "198.51.100.1", "203.0.113.9")
    assert spoofer.post(reverse("join"), {"code": wrong_code(4)}).status_code == 429
    # Someone elsewhere, through the same proxy, is not.
    partner = UserFactory(email="partner@example.com")
    response = from_client(partner, "198.51.100.2").post(reverse("join"), {"code": code})
    assert response.status_code == 302
    assert Membership.objects.active().filter(user=partner, couple=couple).exists()


def test_without_a_trusted_proxy_a_claimed_address_changes_nothing(solo_alice, tend_limits):
    tend_limits("invite_code", account=(10, 600), address=(3, 600))
    for n in range(4):
        guesser = from_client(UserFactory(email=f"g{n}@example.com"), None, "")
        guesser.defaults["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n}"
        status = guesser.post(reverse("join"), {"code": wrong_code(n)}).status_code
        assert status == (422 if n < 3 else 429)


def test_behind_a_proxy_failed_logins_lock_the_client_not_everyone(
    alice, bob, allauth_limits, settings
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    allauth_limits(login_failed="3/m/ip,5/300s/key")
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").post(
            reverse("account_login"), {"login": email, "password": "wrong"}
        )
    locked = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
    response = locked.post(reverse("account_login"), {"login": bob.email, "password": PASSWORD})
    assert TOO_MANY_LOGINS in response.content.decode()
    elsewhere = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.2")
    response = elsewhere.post(reverse("account_login"), {"login": bob.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in elsewhere.session


@pytest.mark.parametrize(("value", "expected"), [(None, "0"), ("1", "1"), ("-1", "error")])
def test_trusted_proxy_count_is_read_in_production(value, expected):
    from tests.security.test_headers import PRODUCTION_ENV

    drop = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL", "TRUSTED_PROXY_COUNT"}
    env = {k: v for k, v in os.environ.items() if k not in drop} | PRODUCTION_ENV
    if value is not None:
        env["TRUSTED_PROXY_COUNT"] = value
    probe = "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {probe}"],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if expected == "error":
        assert "TRUSTED_PROXY_COUNT must be 0 or more" in result.stderr
    else:
        assert result.stdout.strip() == expected, result.stderr
