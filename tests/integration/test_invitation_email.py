"""The invitation email, end to end: view → on_commit → broker → worker → SMTP → partner."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from couples.models import Invitation, Membership
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple
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


def active_couple_ids(*users) -> set[int]:
    return set(
        Membership.objects.active().filter(user__in=users).values_list("couple_id", flat=True)
    )


@pytest.fixture
def alice_solo(settings):
    settings.SITE_URL = SITE_URL
    alice = UserFactory(email="alice@example.com", display_name="Alice")
    make_couple(alice)
    return alice


def invite_by_email(inviter, email: str) -> None:
    response = logged_in(inviter).post("/space/invite/", {"email": email})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_worker_emails_the_invitation_and_its_link_pairs_the_partner(
    alice_solo, mail_sink, celery_worker
):
    invite_by_email(alice_solo, "bob@example.com")

    message = mail_sink.wait_for(1)
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
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

    bob = UserFactory(email="bob@example.com", display_name="Bob")
    bob_client = logged_in(bob)
    page = bob_client.get(path)
    assert page.status_code == 200
    assert "Join Alice's space" in page.content.decode()
    response = bob_client.post(path)
    assert response.status_code == 302
    assert response["Location"] == "/"

    assert len(active_couple_ids(alice_solo, bob)) == 1
    assert Membership.objects.active().filter(couple=alice_solo.memberships.get().couple).count() == 2
    invitation.refresh_from_db()
    assert invitation.accepted_by == bob
    assert len(mail_sink.received) == 1


def test_the_code_from_the_email_works_on_the_join_page(alice_solo, mail_sink, celery_worker):
    carol = UserFactory(email="carol@example.com", display_name="Carol")
    make_couple(carol)  # Carol had started her own space; joining closes it.
    invite_by_email(alice_solo, "carol@example.com")

    text, _ = text_and_html(mail_sink.wait_for(1))
    celery_worker.wait_for_tasks(1)
    code = invitation_code(text)

    carol_client: Client = logged_in(carol)
    # Typed as read aloud: lower case, no dash.
    response = carol_client.post("/join/", {"code": code.replace("-", "").lower()})
    assert response.status_code == 302, response.content.decode()[:2000]

    couple_ids = active_couple_ids(alice_solo, carol)
    assert len(couple_ids) == 1
    assert Membership.objects.active().filter(couple_id__in=couple_ids).count() == 2
    # The link in the same email is now spent.
    together = carol_client.get(invitation_link(text))
    assert together.status_code == 409
    assert "You are already in this space together." in together.content.decode()
    assert Client().get(invitation_link(text)).status_code == 410
