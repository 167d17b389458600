"""An invitation sent while Redis is down: the page succeeds, the email follows.

The invitation row says its email is owed (``email_due_at``); the broker
message is only a trigger. With the broker down the trigger is lost, the page
still answers, and the minute sweep (``queue_owed_invitation_emails``, run by
beat) queues the email once Redis is back. A real worker process sends it to
a real SMTP server, once, however often the sweep runs.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from couples import services
from couples.models import Invitation, format_code
from couples.tasks import queue_owed_invitation_emails
from tests.conftest import logged_in
from tests.factories import UserFactory
from tests.faults.conftest import point_celery_at, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_invitation_made_while_redis_is_down_is_emailed_once_it_is_back(
    broker, start_worker, sink
):
    alice = UserFactory(display_name="Alice")
    services.create_space(alice)
    client = logged_in(alice)
    broker.stop()

    started = time.monotonic()
    response = client.post(reverse("invite"), {"email": "partner@example.com"})
    assert response.status_code == 302, response.content.decode()[:500]
    assert time.monotonic() - started < 5
    invitation = Invitation.objects.get()
    assert invitation.email_due_at is not None  # owed, and nothing sent
    assert sink.received == []

    broker.start()
    point_celery_at(broker.url)  # drop the connections the outage broke
    start_worker().wait_ready()
    assert queue_owed_invitation_emails() == 1  # what beat runs every minute
    message = sink.wait_for(1, timeout=30)
    assert message["To"] == "partner@example.com"
    token, code = invitation.current_secrets()
    body = message.get_body(("plain",)).get_content()
    assert Invitation.accept_url(token) in body
    assert format_code(code) in body

    wait_until(lambda: Invitation.objects.get().email_due_at is None, 10, "the email marked sent")
    # The sweep again, and again: nothing more is owed, nothing more is sent.
    assert queue_owed_invitation_emails() == 0
    time.sleep(1)
    assert len(sink.received) == 1
    assert Invitation.objects.get().send_count == 1


def test_two_triggers_for_one_owed_email_send_it_once(broker, start_worker, sink):
    """The web's own trigger and the sweep's, both queued before a worker runs."""
    alice = UserFactory(display_name="Alice")
    couple = services.create_space(alice)
    invitation, _, _ = services.issue_invitation(couple, alice, email="partner@example.com")
    assert queue_owed_invitation_emails() == 1
    start_worker().wait_ready()
    sink.wait_for(1, timeout=30)
    wait_until(lambda: Invitation.objects.get().email_due_at is None, 10, "the email marked sent")
    time.sleep(1)
    assert len(sink.received) == 1
    assert Invitation.objects.get(pk=invitation.pk).send_count == 1
