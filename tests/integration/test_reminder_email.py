"""The reminder email, end to end: tick → outbox → broker → worker → SMTP → each partner.

Then what a mail client and a link scanner do with it, over real HTTP against
the live server: one-click unsubscribe (RFC 8058) and the "we did it" link.

Time is not frozen: the worker thread's send step reads the real clock and
skips an occurrence that started more than five minutes ago, so the ritual
starts a few minutes from now, inside its reminder lead, and its reminder is
due at once.
The next day's reminder is dispatched with an explicit ``now`` instead.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.cookiejar import CookieJar
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.models import User
from rituals import dispatch
from rituals.models import Completion, ReminderDelivery, Ritual
from rituals.tasks import dispatch_reminders
from tests.factories import make_ritual
from tests.mailsink import text_and_html

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TITLE = "Evening walk"
PROMPT = "What was the best part of your day?"
BERLIN = ZoneInfo("Europe/Berlin")
ONE_CLICK = b"List-Unsubscribe=One-Click"
# No proxy from the environment: the live server is on this machine.
NO_PROXY = urllib.request.ProxyHandler({})


@pytest.fixture
def site(live_server, settings) -> str:
    """The live server's address, which the links in emails point at."""
    settings.SITE_URL = live_server.url
    return live_server.url


@pytest.fixture
def ritual_starting_soon(couple) -> Ritual:
    """A daily ritual in Berlin whose first occurrence is 9 to 10 minutes away.

    With a 15-minute lead its reminder is already due; the occurrence hasn't
    started, so the worker sends rather than skips.
    """
    now = timezone.now()
    local = (now + timedelta(minutes=10)).astimezone(BERLIN)
    ritual = make_ritual(
        couple,
        now=now,
        title=TITLE,
        prompt=PROMPT,
        start_date=local.date() - timedelta(days=1),
        start_time=local.time().replace(second=0, microsecond=0),
        time_zone="Europe/Berlin",
        reminder_lead_minutes=15,
    )
    assert now < ritual.next_occurrence_at <= now + timedelta(minutes=10)
    assert ritual.next_reminder_at <= now
    return ritual


def link(body: str, site: str, prefix: str) -> str:
    match = re.search(re.escape(site + prefix) + r"[^\s\"'<>]+/", body)
    assert match, f"no {prefix} link in:\n{body}"
    return match.group(0)


def open_url(url: str, data: bytes | None = None, headers: dict | None = None, opener=None):
    """A plain HTTP request, as a mail client makes it: no cookies unless an opener keeps them."""
    opener = opener or urllib.request.build_opener(NO_PROXY)
    assert url.startswith("http://"), url
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 (checked above)
    return opener.open(request, timeout=10)


def assert_reminder(message: EmailMessage, user: User, occurrence: datetime, site: str) -> dict:
    """The reminder to ``user`` is right in every header and both bodies; return its links."""
    local = occurrence.astimezone(user.zone)
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
    assert message["To"] == user.email
    assert message["Subject"] == f"{TITLE} at {local:%H:%M}"
    unsubscribe = re.fullmatch(
        "<(" + re.escape(site) + r"/r/unsubscribe/[^/>\s]+/)>", str(message["List-Unsubscribe"])
    )
    assert unsubscribe, message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text, html = text_and_html(message)
    links = {
        "done": link(text, site, "/r/done/"),
        "pause": link(text, site, "/r/pause/"),
        "unsubscribe": unsubscribe.group(1),
    }
    assert f"{local:%H:%M} ({user.time_zone})" in text
    for body in (text, html):
        assert TITLE in body
        assert PROMPT in body
        assert links["done"] in body
        assert links["pause"] in body
        assert links["unsubscribe"] in body
    return links


def test_each_partner_gets_a_reminder_and_one_click_unsubscribe_stops_the_next(
    site, couple, alice, bob, ritual_starting_soon, mail_sink, celery_worker
):
    ritual = ritual_starting_soon
    first = ritual.next_occurrence_at

    # The beat tick, through the broker: it queues one send task for both partners.
    dispatch_reminders.delay()
    assert celery_worker.wait_for_tasks(2) == [
        ("rituals.tasks.dispatch_reminders", "SUCCESS"),
        ("rituals.tasks.send_reminders", "SUCCESS"),
    ]
    to_alice = mail_sink.wait_for_message(to=alice.email)
    to_bob = mail_sink.wait_for_message(to=bob.email)
    assert len(mail_sink.received) == 2
    assert sorted(r.rcpt_tos[0] for r in mail_sink.received) == [alice.email, bob.email]
    alice_links = assert_reminder(to_alice, alice, first, site)
    bob_links = assert_reminder(to_bob, bob, first, site)
    # Berlin and New York: the same instant, two different wall-clock times.
    assert to_alice["Subject"] != to_bob["Subject"]
    assert set(
        ReminderDelivery.objects.filter(occurrence_at=first).values_list("recipient", "status")
    ) == {(alice.pk, "sent"), (bob.pk, "sent")}

    # A link scanner's GET of the unsubscribe link changes nothing.
    assert open_url(bob_links["unsubscribe"]).status == 200
    bob.refresh_from_db()
    assert bob.reminders_enabled

    # Bob's mail client unsubscribes in one click: a bare POST, no cookie, no CSRF token.
    response = open_url(
        bob_links["unsubscribe"],
        data=ONE_CLICK,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200
    bob.refresh_from_db()
    assert not bob.reminders_enabled

    # The next day's tick nudges Alice only.
    ritual.refresh_from_db()
    second = ritual.next_occurrence_at
    assert second == first + timedelta(days=1)
    result = dispatch.dispatch_due_reminders(now=ritual.next_reminder_at)
    assert len(result.queued) == 1
    assert mail_sink.wait_for(3)["To"] == alice.email
    celery_worker.wait_for_tasks(3)
    assert_reminder(mail_sink.messages[2], alice, second, site)
    assert len(mail_sink.received) == 3
    assert list(
        ReminderDelivery.objects.filter(occurrence_at=second).values_list("recipient", "status")
    ) == [(alice.pk, "sent")]

    # "We did it": the GET shows a confirmation form and records nothing…
    browser = urllib.request.build_opener(NO_PROXY, urllib.request.HTTPCookieProcessor(CookieJar()))
    page = open_url(alice_links["done"], opener=browser)
    html = page.read().decode()
    assert page.status == 200
    assert f"Did you keep “{TITLE}”?" in html
    assert not Completion.objects.exists()

    # …the form's POST, with the CSRF cookie and token from that page, does.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, html
    form = {"csrfmiddlewaretoken": token.group(1), "note": "Round the park", "together": "on"}
    response = open_url(
        alice_links["done"], data=urllib.parse.urlencode(form).encode(), opener=browser
    )
    assert response.status == 200
    assert "It's marked kept." in response.read().decode()
    completion = Completion.objects.get()
    assert (completion.ritual_id, completion.occurrence_at, completion.user_id) == (
        ritual.pk,
        first,
        alice.pk,
    )
    assert completion.together
    assert completion.note == "Round the park"
