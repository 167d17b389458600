"""Every create form acts once: a double click or a retried request makes one row.

Twenty identical posts are released together against the real database
(PostgreSQL in CI): exactly one row, and every one of the twenty gets the
answer a single post gets (no 5xx, no error page).
"""

from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from django.db import connection
from django.urls import reverse

from couples.models import Invitation
from exercises.models import Entry, Session
from rituals.models import Ritual
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple

PARALLEL = 20


def together(user, url: str, data: dict, count: int = PARALLEL, headers=None) -> list:
    """``count`` posts of the same form by ``user``, released at once; their responses."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def run(index: int) -> None:
        client = logged_in(user)
        try:
            barrier.wait(timeout=20)
            responses[index] = client.post(url, data, headers=headers or {})
        except Exception as error:  # a crash is what the test must show
            responses[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


def key_from(page: str) -> str:
    return re.search(r'name="request_key" value="([^"]+)"', page).group(1)


def ritual_form(couple, **changes) -> dict:
    return {
        "title": "Sunday walk",
        "frequency": "weekly",
        "weekdays": ["SU"],
        "interval": 1,
        "start_date": date.today().isoformat(),
        "start_time": "10:00",
        "time_zone": couple.time_zone,
        "duration_minutes": 30,
        "reminder_lead_minutes": 60,
        "nudge_me": "on",
        **changes,
    }


@pytest.mark.django_db(transaction=True)
class TestTogether:
    @pytest.fixture
    def pair(self):
        alice, bob = UserFactory(), UserFactory()
        return alice, make_couple(alice, bob)

    def test_adding_from_the_catalog(self, pair):
        alice, couple = pair
        page = logged_in(alice).get(reverse("rituals")).content.decode()
        url = reverse("ritual_add_template", args=["daily-check-in"])
        responses = together(alice, url, {"request_key": key_from(page)})
        assert {r.status_code for r in responses} == {302}, responses
        ritual = Ritual.objects.get(couple=couple)
        assert {r.url for r in responses} == {reverse("ritual_detail", args=[ritual.pk])}

    def test_the_ritual_form(self, pair):
        alice, couple = pair
        page = logged_in(alice).get(reverse("ritual_new")).content.decode()
        data = ritual_form(couple, request_key=key_from(page))
        responses = together(alice, reverse("ritual_new"), data)
        assert {r.status_code for r in responses} == {302}, responses
        assert Ritual.objects.filter(couple=couple).count() == 1
        # Her own nudges were set once, and stay as chosen.
        assert not Ritual.objects.get(couple=couple).muted_by.exists()

    def test_starting_an_exercise(self, pair):
        alice, couple = pair
        url = reverse("exercise_start", args=["eye_gazing"])
        data = {"eye_gazing-mode": "two_devices", "eye_gazing-length": "120"}
        responses = together(alice, url, data)
        assert {r.status_code for r in responses} == {302}, responses
        assert Session.objects.filter(couple=couple).count() == 1

    @pytest.mark.parametrize(
        ("name", "query", "data"),
        [
            ("our_story", "?prompt=how-we-met", {"text": "the rain"}),
            ("daily_question", "", {"text": "the rain"}),
            ("appreciation", "", {f"who_{n}": "shared" for n in (1, 2, 3)} | {"text_1": "tea"}),
        ],
    )
    def test_journal_pages(self, pair, name, query, data):
        alice, couple = pair
        responses = together(alice, reverse(name) + query, data)
        assert all(not isinstance(r, Exception) for r in responses), responses
        assert {r.status_code for r in responses} == {302}, [r.status_code for r in responses]
        assert Entry.objects.filter(couple=couple, author=alice).count() == 1


@pytest.mark.django_db(transaction=True)
class TestInvitationsTogether:
    @pytest.fixture
    def solo(self):
        from couples import services

        alice = UserFactory()
        services.create_space(alice)
        return alice

    def test_inviting_by_email(self, solo, mailoutbox):
        page = logged_in(solo).get(reverse("dashboard")).content.decode()
        data = {"email": "partner@example.com", "request_key": key_from(page)}
        # Fewer than the hourly limit on invitations, which each post may count.
        responses = together(solo, reverse("invite"), data, count=8)
        assert {r.status_code for r in responses} == {302}, responses
        assert Invitation.objects.count() == 1
        assert [m.to for m in mailoutbox] == [["partner@example.com"]]

    def test_renewing(self, solo, mailoutbox):
        from couples import services

        couple = services.active_membership(solo).couple
        invitation, _, _ = services.issue_invitation(couple, solo, email="partner@example.com")
        mailoutbox.clear()
        before = invitation.token_hash
        data = {"issued": invitation.issued_marker}
        url = reverse("renew_invitation", args=[invitation.pk])
        responses = together(solo, url, data, count=8)
        assert {r.status_code for r in responses} == {302}, responses
        invitation.refresh_from_db()
        assert invitation.token_hash != before
        assert len(mailoutbox) == 1


def test_a_retried_invitation_is_not_counted_again(charlie, charlie_client, settings):
    """Once the form's invitation exists, posting it again costs no try of the hourly limit."""
    limits = {"account": (1, 3600), "address": (60, 3600)}
    settings.TEND_RATE_LIMITS = {**settings.TEND_RATE_LIMITS, "invite_send": limits}
    page = charlie_client.get(reverse("dashboard")).content.decode()
    data = {"email": "partner@example.com", "request_key": key_from(page)}
    for _ in range(3):
        assert charlie_client.post(reverse("invite"), data).status_code == 302
    assert Invitation.objects.filter(invited_by=charlie).count() == 1


def test_a_second_form_makes_a_second_ritual(couple, alice_client):
    for _ in range(2):
        page = alice_client.get(reverse("rituals")).content.decode()
        url = reverse("ritual_add_template", args=["daily-check-in"])
        assert alice_client.post(url, {"request_key": key_from(page)}).status_code == 302
    assert Ritual.objects.filter(couple=couple).count() == 2


def test_a_retried_post_lands_on_the_same_ritual_without_a_second_welcome(couple, alice_client):
    page = alice_client.get(reverse("ritual_new")).content.decode()
    data = ritual_form(couple, request_key=key_from(page))
    first = alice_client.post(reverse("ritual_new"), data)
    assert "added" in alice_client.get(first.url).content.decode()
    retried = alice_client.post(reverse("ritual_new"), data, follow=True)
    assert retried.redirect_chain[0][0] == first.url
    assert "added" not in retried.content.decode()
    assert Ritual.objects.filter(couple=couple).count() == 1


def test_a_form_shown_again_with_errors_keeps_its_key(couple, alice_client):
    page = alice_client.get(reverse("ritual_new")).content.decode()
    key = key_from(page)
    bad = alice_client.post(reverse("ritual_new"), ritual_form(couple, title="", request_key=key))
    assert bad.status_code == 422
    assert key_from(bad.content.decode()) == key


def test_a_key_is_per_space(couple, alice_client, charlie, charlie_client):
    """Another space posting the same key still gets its own ritual."""
    page = alice_client.get(reverse("rituals")).content.decode()
    data = {"request_key": key_from(page)}
    url = reverse("ritual_add_template", args=["daily-check-in"])
    assert alice_client.post(url, data).status_code == 302
    assert charlie_client.post(url, data).status_code == 302
    assert Ritual.objects.filter(couple=couple).count() == 1
    assert Ritual.objects.exclude(couple=couple).count() == 1
