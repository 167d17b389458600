"""Staff log in where everyone does, under the same limits: the admin's own
log-in form reads no password (config/admin.py)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import logged_in
from tests.factories import PASSWORD, UserFactory

TOO_MANY_LOGINS = "Too many failed login attempts. Try again later."
ADMIN_LOGIN = "/admin/login/?next=/admin/"
TO_LOG_IN = reverse("account_login") + "?next=/admin/"


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


def test_guessing_passwords_at_the_admin_login_gets_nowhere(staff):
    """As reported: 15 wrong passwords at /admin/login/ were 15 fresh tries, and
    the 16th, right one let the guesser in. Now no password is read there."""
    client = Client()
    responses = [
        client.post(ADMIN_LOGIN, {"username": staff.email, "password": "wrong"}) for _ in range(15)
    ]
    responses.append(client.post(ADMIN_LOGIN, {"username": staff.email, "password": PASSWORD}))
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302
    assert {(r.status_code, r.headers.get("Location")) for r in responses} == {(302, TO_LOG_IN)}


def test_staff_log_in_on_the_site_and_reach_the_admin(staff):
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == (TO_LOG_IN, 302)
    response = client.post(TO_LOG_IN, {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Site administration" in page.content.decode()
    # Already in: the admin's log-in page leads on instead of asking again.
    assert client.get(ADMIN_LOGIN).url == "/admin/"


def test_failed_staff_logins_lock_the_account_like_anyone_s(staff, settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "10/m/ip,3/300s/key",
    }
    client = Client()
    for _ in range(3):
        response = client.post(TO_LOG_IN, {"login": staff.email, "password": "wrong"})
        assert response.status_code == 200
        assert TOO_MANY_LOGINS not in response.content.decode()
    response = client.post(TO_LOG_IN, {"login": staff.email, "password": PASSWORD})
    assert TOO_MANY_LOGINS in response.content.decode()
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302


def test_staff_logins_are_limited_per_address_like_anyone_s(staff, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    for _ in range(2):
        client = Client()
        client.post(TO_LOG_IN, {"login": staff.email, "password": PASSWORD})
        assert SESSION_KEY in client.session
    client = Client()
    response = client.post(TO_LOG_IN, {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_a_member_without_staff_rights_is_refused_not_sent_round_in_circles(alice):
    client = logged_in(alice)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert [url for url, _ in response.redirect_chain] == [ADMIN_LOGIN]


def test_the_admin_login_sends_nobody_to_another_site(staff):
    client = logged_in(staff)
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response.url == "/admin/"
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response.url == TO_LOG_IN


def test_a_superuser_from_createsuperuser_confirms_the_address_once(db):
    """``manage.py createsuperuser`` makes no verified address: the first log-in
    mails a confirmation link (README, Operations), which leads into the admin."""
    call_command(
        "createsuperuser",
        interactive=False,
        email="root@example.com",
        display_name="Root",
        stdout=StringIO(),
    )
    root = User.objects.get(email="root@example.com")
    root.set_password(PASSWORD)
    root.save()
    client = Client()
    response = client.post(TO_LOG_IN, {"login": root.email, "password": PASSWORD})
    assert response.url == reverse("account_email_verification_sent")
    assert SESSION_KEY not in client.session
    link = re.search(r"https?://\S+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    response = client.post(link.group(1))
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
