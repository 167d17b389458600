"""Sign-up, settings, export and deletion."""

from __future__ import annotations

import json

from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from couples import services
from couples.models import Invitation, Membership
from tests.conftest import logged_in
from tests.exports import download_export
from tests.factories import PASSWORD


def signup(client, **overrides):
    data = {
        "display_name": "Dana",
        "email": "dana@example.com",
        "password1": PASSWORD,
        "time_zone": "Asia/Tokyo",
        **overrides,
    }
    return client.post(reverse("account_signup"), data)


def test_signup_needs_a_verified_email_before_logging_in(client, db):
    response = signup(client)
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email="dana@example.com")
    assert (user.display_name, user.time_zone) == ("Dana", "Asia/Tokyo")
    assert not EmailAddress.objects.get(user=user).verified
    assert "confirm-email" in mail.outbox[0].body
    # Until verified, logging in leads back to the verification notice.
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.url == reverse("account_email_verification_sent")


def test_signup_rejects_an_unknown_time_zone_and_saves_nothing(client, db):
    response = signup(client, time_zone="Mars/Olympus_Mons")
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not User.objects.exists()


def test_signup_has_no_username_and_labels_every_input(client, db):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="username"' not in page
    for field_id in ("id_display_name", "id_email", "id_password1", "id_time_zone"):
        assert f'for="{field_id}"' in page


def test_login_by_email(client, alice):
    response = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert b"Welcome, Alice" in client.get("/").content


def test_repeated_failed_logins_are_rate_limited(client, alice):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": alice.email, "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_link(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": alice.email})
    assert response.status_code == 302
    assert "password/reset/key" in mail.outbox[0].body


def test_profile_changes_name_and_time_zone(alice, alice_client):
    response = alice_client.post(
        reverse("profile"), {"display_name": "Ali", "time_zone": "Pacific/Auckland"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.display_name, alice.time_zone) == ("Ali", "Pacific/Auckland")


def test_profile_bad_input_is_a_422_fragment_and_changes_nothing(alice, alice_client):
    response = alice_client.post(
        reverse("profile"),
        {"display_name": "", "time_zone": "Nowhere/Land"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert b'id="profile-form"' in response.content
    assert b"<html" not in response.content
    assert b"This field is required" in response.content
    alice.refresh_from_db()
    assert (alice.display_name, alice.time_zone) == ("Alice", "Europe/Berlin")


def test_export_holds_what_the_user_wrote_and_nothing_of_the_partner(couple, alice, bob):
    services.leave_couple(bob)
    services.issue_invitation(couple, alice, email="friend@example.com")
    response = download_export(logged_in(alice))
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["email"] == "alice@example.com"
    assert data["profile"]["time_zone"] == "Europe/Berlin"
    assert [s["space"] for s in data["spaces"]] == ["Alice & Bob"]
    assert [i["email"] for i in data["invitations_sent"]] == ["friend@example.com"]
    assert "bob@example.com" not in response.content.decode()
    assert "token" not in response.content.decode()


def test_deleting_needs_the_password(alice, alice_client):
    response = alice_client.post(reverse("delete_account"), {"password": "nope"})
    assert response.status_code == 422
    assert b"password isn" in response.content
    assert User.objects.filter(pk=alice.pk).exists()


def test_deleting_removes_the_account_and_leaves_the_space_to_the_partner(couple, alice, bob):
    client = logged_in(bob)
    invitation_ids = list(Invitation.objects.values_list("pk", flat=True))
    response = client.post(reverse("delete_account"), {"password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert not User.objects.filter(pk=bob.pk).exists()
    assert not Membership.objects.filter(user_id=bob.pk).exists()
    assert "_auth_user_id" not in client.session
    assert services.active_membership(alice).couple == couple
    assert list(Invitation.objects.values_list("pk", flat=True)) == invitation_ids


def test_deleting_the_last_member_archives_the_space(alice, alice_client):
    couple = services.create_space(alice)
    services.issue_invitation(couple, alice)
    alice_client.post(reverse("delete_account"), {"password": PASSWORD})
    couple.refresh_from_db()
    assert couple.archived_at is not None
    assert not Invitation.objects.pending().filter(couple=couple).exists()
