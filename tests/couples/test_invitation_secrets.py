"""Invitation links and codes are rebuilt from the invitation, never stored:
across a SECRET_KEY rotation, for invitations issued before, and only for the
device that made them."""

from __future__ import annotations

import re
import secrets

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from couples import services
from couples.models import CODE_ALPHABET, Invitation, format_code, hash_secret
from couples.tasks import send_invitation_email
from tests.conftest import logged_in
from tests.factories import PASSWORD

LINK = re.compile(r'value="https?://[^"/]+/invite/[A-Za-z0-9_-]+/"')
OLD_KEY = "an-old-key-" + "o" * 40
NEW_KEY = "a-new-key-" + "n" * 40


@pytest.fixture
def solo_alice(alice):
    services.create_space(alice)
    return alice


def issue(user, email: str = ""):
    couple = services.active_membership(user).couple
    return services.issue_invitation(couple, user, email=email)


def test_the_link_and_code_are_rebuilt_exactly_as_issued(solo_alice):
    invitation, token, code = issue(solo_alice)
    assert invitation.seed
    assert Invitation.objects.get(pk=invitation.pk).current_secrets() == (token, code)
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    _, other_token, other_code = issue(solo_alice)
    assert (other_token, other_code) != (token, code)


def test_after_a_key_rotation_the_old_invitation_still_shows_works_and_sends(
    solo_alice, settings, django_capture_on_commit_callbacks
):
    settings.SECRET_KEY = OLD_KEY
    client = logged_in(solo_alice)
    client.post(reverse("invite"), {"email": ""})
    invitation = Invitation.objects.get()
    token, code = invitation.current_secrets()

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert Invitation.objects.get().current_secrets() == (token, code)
    page = client.get("/").content.decode()
    assert Invitation.accept_url(token) in page and format_code(code) in page
    assert Invitation.find_by_token(token) == invitation
    assert Invitation.find_by_code(code) == invitation
    invitation.email, invitation.email_due_at = "bob@example.com", timezone.now()
    invitation.save(update_fields=["email", "email_due_at"])
    send_invitation_email.apply(args=[invitation.pk, invitation.token_hash])
    assert len(mail.outbox) == 1
    assert Invitation.accept_url(token) in mail.outbox[0].body
    assert format_code(code) in mail.outbox[0].body


def test_once_the_old_key_is_dropped_the_link_cant_be_rebuilt_and_a_renewal_helps(
    solo_alice, settings, caplog
):
    settings.SECRET_KEY = OLD_KEY
    client = logged_in(solo_alice)
    client.post(reverse("invite"), {"email": "bob@example.com"})
    mail.outbox.clear()
    invitation = Invitation.objects.get()

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    assert invitation.current_secrets() is None
    send_invitation_email.apply(args=[invitation.pk, invitation.token_hash])
    assert mail.outbox == []
    assert "can't be rebuilt" in caplog.text
    client = logged_in(solo_alice)
    page = client.get("/").content.decode()
    assert "Invitation link" not in page
    assert "Get a new pair" in page

    page = client.post(reverse("renew_invitation", args=[invitation.pk]), follow=True)
    invitation.refresh_from_db()
    token, code = invitation.current_secrets()
    assert Invitation.accept_url(token) in page.content.decode()
    assert Invitation.find_by_code(code) == invitation


def test_invitations_issued_before_secrets_were_derived_still_open(solo_alice, bob):
    """Rows from before the seed: plain hashes of random secrets, at most 7 days old."""
    invitation, _, _ = issue(solo_alice)
    token, code = secrets.token_urlsafe(32), "ABCD2345"
    Invitation.objects.filter(pk=invitation.pk).update(
        seed="", token_hash=hash_secret(token), code_hash=hash_secret(code)
    )
    invitation.refresh_from_db()
    assert Invitation.find_by_token(token) == invitation
    assert Invitation.find_by_code("abcd-2345") == invitation
    assert invitation.current_secrets() is None
    new_token, new_code = services.renew_invitation(invitation)
    assert Invitation.objects.get().current_secrets() == (new_token, new_code)
    assert Invitation.find_by_code(code) is None


def shown_link(page: str) -> str | None:
    found = LINK.search(page)
    return found.group(0) if found else None


def test_the_device_that_made_a_link_stops_showing_it_once_renewed_elsewhere(solo_alice):
    phone, laptop = logged_in(solo_alice), logged_in(solo_alice)
    page = phone.post(reverse("invite"), {"email": ""}, follow=True).content.decode()
    old_link = shown_link(page)
    assert old_link and shown_link(phone.get("/").content.decode()) == old_link
    assert shown_link(laptop.get("/").content.decode()) is None

    invitation = Invitation.objects.get()
    laptop.post(reverse("renew_invitation", args=[invitation.pk]))
    new_link = shown_link(laptop.get("/").content.decode())
    assert new_link and new_link != old_link
    page = phone.get("/").content.decode()
    assert shown_link(page) is None  # the old link no longer works; the phone never made the new
    assert "Get a new pair" in page


def test_a_visitor_is_not_sent_to_a_link_renewed_after_they_opened_theirs(solo_alice, bob):
    invitation, token, _ = issue(solo_alice)
    visitor = Client()
    visitor.get(reverse("invitation", args=[token]))
    new_token, _ = services.renew_invitation(invitation)

    response = visitor.post(reverse("account_login"), {"login": bob.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert new_token not in response.url


def test_a_visitor_returns_to_the_link_they_opened_after_logging_in(solo_alice, bob):
    """The same flow as above without the renewal: the visitor lands on their link."""
    _, token, _ = issue(solo_alice)
    visitor = Client()
    visitor.get(reverse("invitation", args=[token]))
    response = visitor.post(reverse("account_login"), {"login": bob.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("invitation", args=[token])
