"""The invitation email, end to end: view → on_commit → broker → worker → SMTP → partner."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from couples.models import Couple, Invitation, Membership
from tests.conftest import logged_in
from tests.factories import make_couple
from tests.mailsink import text_and_html

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SITE_URL = "http://tend.test"
CODE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b")


def invitation_link(body: str) -> str:
    match = re.search(re.escape(SITE_URL) + r"(/invite/[A-Za-z0-9_-]+/)", body)
    assert match, f"no invitation link in:\n{body}"
    return match.group(1)


def invitation_code(body: str) -> str:
    match = CODE.search(body)
    assert match, f"no invitation code in:\n{body}"
    return match.group(1)


def assert_share_one_space(*users) -> None:
    """The users are the active members of one space, and nobody else is."""
    couple_ids = set(
        Membership.objects.active().filter(user__in=users).values_list("couple_id", flat=True)
    )
    assert len(couple_ids) == 1
    members = Membership.objects.active().filter(couple_id__in=couple_ids)
    assert set(members.values_list("user_id", flat=True)) == {user.pk for user in users}


@pytest.fixture
def alice_solo(alice, settings):
    """Alice alone in her space; links in emails point at SITE_URL."""
    settings.SITE_URL = SITE_URL
    make_couple(alice)
    return alice


def invite_by_email(inviter, email: str) -> None:
    response = logged_in(inviter).post("/space/invite/", {"email": email})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_worker_emails_the_invitation_and_its_link_pairs_the_partner(
    alice_solo, bob, mail_sink, celery_worker
):
    invite_by_email(alice_solo, "bob@example.com")

    message = mail_sink.wait_for(1)
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Alice invites you to share a space on Tend"
    assert mail_sink.received[0].rcpt_tos == ["bob@example.com"]
    text, html = text_and_html(message)
    path = invitation_link(text)
    code = invitation_code(text)
    assert SITE_URL + path in html
    assert code in html
    assert f"{SITE_URL}/join/" in text

    assert celery_worker.wait_for_tasks(1) == [("couples.tasks.send_invitation_email", "SUCCESS")]
    invitation = Invitation.objects.get()
    assert invitation.send_count == 1  # the worker recorded the delivery
    assert invitation.last_sent_at is not None

    bob_client = logged_in(bob)  # Bob has an account but no space yet.
    page = bob_client.get(path)
    assert page.status_code == 200
    assert "Join Alice's space" in page.content.decode()
    response = bob_client.post(path)
    assert response.status_code == 302
    assert response["Location"] == "/"

    assert_share_one_space(alice_solo, bob)
    invitation.refresh_from_db()
    assert invitation.accepted_by == bob
    assert len(mail_sink.received) == 1


def test_the_code_from_the_email_works_on_the_join_page(
    alice_solo, charlie, mail_sink, celery_worker
):
    invite_by_email(alice_solo, charlie.email)

    text, _ = text_and_html(mail_sink.wait_for(1))
    celery_worker.wait_for_tasks(1)
    code = invitation_code(text)

    charlie_client = logged_in(charlie)
    # Typed as read aloud: lower case, no dash.
    response = charlie_client.post("/join/", {"code": code.replace("-", "").lower()})
    assert response.status_code == 302, response.content.decode()[:2000]

    # Charlie left his own space for Alice's; it is closed.
    assert_share_one_space(alice_solo, charlie)
    assert Couple.objects.get(name="Charlie's space").is_archived
    # The link in the same email is now spent.
    together = charlie_client.get(invitation_link(text))
    assert together.status_code == 409
    assert "You are already in this space together." in together.content.decode()
    assert Client().get(invitation_link(text)).status_code == 410
