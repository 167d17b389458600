"""An invitation's link and code are shown once and stored nowhere.

Not in the session store (its database rows and their cached copies), not in
the queued email task, not in the database: each of those only names the
invitation, and the link and code are rebuilt from it when needed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from config.celery import app
from couples import services
from couples.models import Invitation, hash_secret
from couples.tasks import send_invitation_email
from tests.conftest import logged_in

SIGN_UP = {
    "display_name": "Bob",
    "email": "bob@example.com",
    "password1": "a-new-and-long-passphrase",
    "time_zone": "Europe/Berlin",
}
LINK = re.compile(r'value="https?://[^"/]+/invite/([A-Za-z0-9_-]+)/"')
CODE = re.compile(r'id="invite-code">([A-Z0-9]{4})-([A-Z0-9]{4})<')


@pytest.fixture
def solo_alice(alice):
    services.create_space(alice)
    return alice


def shown_secrets(page: str) -> list[str]:
    """The link token and the code as the dashboard shows them, in every spelling."""
    token = LINK.search(page)
    code = CODE.search(page)
    assert token and code, "the dashboard shows the new link and code"
    left, right = code.groups()
    return [token.group(1), left + right, f"{left}-{right}"]


def stored_sessions() -> list[tuple[str, str]]:
    """Every session as stored: decoded from its database row and from its cached copy."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    cache = caches[settings.SESSION_CACHE_ALIAS]
    found = []
    for row in Session.objects.all():
        found.append((f"database {row.session_key}", json.dumps(row.get_decoded())))
        cached = cache.get(store(session_key=row.session_key).cache_key)
        assert cached is not None, "the session is cached too (cached_db)"
        found.append((f"cache {row.session_key}", json.dumps(cached)))
    return found


def assert_nowhere(secrets: list[str], stored: list[tuple[str, str]]) -> None:
    leaks = [(where, s) for where, text in stored for s in secrets if s in text]
    assert not leaks, f"raw invitation secrets stored: {leaks}"


def test_no_session_stores_a_link_or_code(solo_alice, django_capture_on_commit_callbacks):
    client = logged_in(solo_alice)
    shown = []
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("invite"), {"email": "bob@example.com"}, follow=True)
    shown += shown_secrets(page.content.decode())
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("renew_invitation", args=[invitation.pk]), follow=True)
    shown += shown_secrets(page.content.decode())
    client.post(reverse("revoke_invitation", args=[invitation.pk]))
    page = client.post(reverse("invite"), {"email": ""}, HTTP_HX_REQUEST="true")
    shown += shown_secrets(page.content.decode())
    # The device that made them still shows them on its next visit.
    assert shown[-3] in client.get("/").content.decode()
    # A visitor opens the link and signs up from it; the session remembers the
    # invitation, not the link, while the email address waits to be confirmed.
    visitor = Client()
    page = visitor.get(reverse("invitation", args=[shown[-3]])).content.decode()
    signup = re.search(r'href="(/accounts/signup/[^"]*)">Create my account', page).group(1)
    response = visitor.post(html.unescape(signup), SIGN_UP)
    assert response.url == reverse("account_email_verification_sent")
    assert "pending_invitation" in visitor.session
    # Another one has an account, and mistypes the password once.
    member = Client()
    page = member.get(reverse("invitation", args=[shown[-3]])).content.decode()
    login = re.search(r'href="(/accounts/login/[^"]*)">I have an account', page).group(1)
    response = member.post(html.unescape(login), {"login": "c@example.com", "password": "no"})
    assert response.status_code == 200
    assert len(mail.outbox) == 3  # two invitations, one address to confirm

    stored = stored_sessions()
    assert len(stored) == 6  # three sessions, each in the database and the cache
    assert_nowhere(shown, stored)


@contextmanager
def broker_queue() -> Iterator[list]:
    """Tasks go to the configured broker (Redis, or kombu's memory transport
    without REDIS_URL) instead of running at once; yields the messages taken
    back off the queue, as stored there, and leaves none behind for a worker."""
    taken: list = []
    app.conf.task_always_eager = False
    try:
        yield taken
    finally:
        app.conf.task_always_eager = True
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue(app.conf.task_default_queue)
            try:
                while True:
                    message = queue.get(timeout=1)
                    message.ack()
                    taken.append(message)
            except queue.Empty:
                pass
            finally:
                queue.close()


def test_the_queued_email_task_carries_no_link_or_code(
    solo_alice, django_capture_on_commit_callbacks
):
    client = logged_in(solo_alice)
    with broker_queue() as messages, django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("invite"), {"email": "bob@example.com"}, follow=True)
    shown = shown_secrets(page.content.decode())
    invitation = Invitation.objects.get()
    assert mail.outbox == []  # queued, not sent

    assert len(messages) == 1
    message = messages[0]
    assert message.headers["task"] == "couples.tasks.send_invitation_email"
    as_stored = json.dumps([message.body.decode(), message.headers, message.properties])
    assert_nowhere(shown, [("broker message", as_stored)])
    args, kwargs, _ = message.decode()
    assert (args, kwargs) == ([invitation.pk, invitation.token_hash], {})

    # What the message carries is enough: the worker rebuilds the same link and code.
    send_invitation_email.apply(args=args, kwargs=kwargs)
    assert len(mail.outbox) == 1
    assert all(secret in mail.outbox[0].body for secret in shown[::2])


def test_the_database_keeps_no_link_or_code_nor_a_plain_hash_of_the_code(solo_alice):
    """A copy of the database alone gives neither away: the code's hash is keyed,
    since 30^8 codes are few enough to try them all against a plain hash."""
    couple = services.active_membership(solo_alice).couple
    invitation, token, code = services.issue_invitation(couple, solo_alice)
    row = json.dumps(Invitation.objects.filter(pk=invitation.pk).values().get(), default=str)
    assert token not in row and code not in row
    assert hash_secret(code) not in row
    assert invitation.token_hash == hash_secret(token)
    assert Invitation.find_by_code(code) == invitation
    assert Invitation.find_by_token(token) == invitation
