"""The daily question: one a day for both, sealed until both have answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import time_machine
from django.urls import reverse

from exercises import daily
from exercises.models import Entry
from tests.conftest import logged_in
from tests.exports import download_export

NOON = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


def test_both_partners_get_the_same_question_and_it_changes_daily(couple):
    today = datetime(2026, 12, 2).date()
    first = daily.question_for(couple, today)
    assert first == daily.question_for(couple, today)
    days = [
        daily.question_for(couple, today + timedelta(days=n)) for n in range(len(daily.deck_keys()))
    ]
    assert len(set(days)) == len(days)  # the whole deck before any repeat


def test_the_deck_has_at_least_a_hundred_questions():
    assert len(daily.deck_keys()) >= 100


def test_answers_stay_sealed_until_both_have_answered(couple, alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    with time_machine.travel(NOON, tick=False):
        alice_client.post(reverse("daily_question"), {"text": "the pancakes on Sunday"})
        for response in (
            bob_client.get(reverse("daily_question")),
            bob_client.get(reverse("daily_question"), HTTP_HX_REQUEST="true"),
            download_export(bob_client),
            bob_client.get("/"),
        ):
            assert "pancakes" not in response.content.decode()
        page = bob_client.get(reverse("daily_question")).content.decode()
        assert "Your partner has answered" in page
        bob_client.post(reverse("daily_question"), {"text": "the walk by the canal"})
        bob_page = bob_client.get(reverse("daily_question")).content.decode()
        alice_page = alice_client.get(reverse("daily_question")).content.decode()
    for page in (bob_page, alice_page):
        assert "pancakes" in page and "canal" in page


def test_an_empty_answer_is_refused_and_nothing_saved(couple, alice_client):
    response = alice_client.post(reverse("daily_question"), {"text": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Write a few words first." in response.content.decode()
    assert 'id="daily-today"' in response.content.decode()
    assert not Entry.objects.exists()


def test_answering_twice_keeps_the_first(couple, alice, alice_client):
    with time_machine.travel(NOON, tick=False):
        alice_client.post(reverse("daily_question"), {"text": "first"})
        alice_client.post(reverse("daily_question"), {"text": "second"})
    assert list(Entry.objects.values_list("text", flat=True)) == ["first"]


def test_past_days_show_both_answers_or_keep_them_sealed(couple, alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        alice_client.post(reverse("daily_question"), {"text": "both answered: a"})
        bob_client.post(reverse("daily_question"), {"text": "both answered: b"})
    with time_machine.travel(NOON - timedelta(days=1), tick=False):
        alice_client.post(reverse("daily_question"), {"text": "only alice, sealed"})
    with time_machine.travel(NOON, tick=False):
        page = bob_client.get(reverse("daily_question")).content.decode()
    assert "both answered: a" in page and "both answered: b" in page
    assert "only alice, sealed" not in page
    assert "Only your partner answered; it stays sealed." in page


def test_an_outsider_sees_nothing_of_the_couples_answers(couple, alice, charlie):
    with time_machine.travel(NOON, tick=False):
        logged_in(alice).post(reverse("daily_question"), {"text": "ours alone"})
        page = logged_in(charlie).get(reverse("daily_question")).content.decode()
    assert "ours alone" not in page
    assert "Your partner has answered" not in page


def test_the_export_has_only_my_own_answers(couple, alice, bob):
    with time_machine.travel(NOON, tick=False):
        logged_in(alice).post(reverse("daily_question"), {"text": "alice's words"})
        logged_in(bob).post(reverse("daily_question"), {"text": "bob's words"})
        exported = json.loads(download_export(logged_in(bob)).content)
    texts = [entry["text"] for entry in exported["exercises"]]
    assert texts == ["bob's words"]


def test_a_sealed_answer_opens_only_for_a_reader_who_answered_too(couple, alice, bob):
    """Someone else having answered (a former partner, say) is not enough; and
    what someone who is not a member now wrote never opens at all."""
    from tests.factories import UserFactory

    former = UserFactory(display_name="Dana")
    key = "daily:2026-12-02:d-001"
    for author, text in ((alice, "a"), (former, "d")):
        Entry.objects.create(
            couple=couple, author=author, prompt_key=key, visibility="sealed", text=text
        )
    assert not Entry.objects.visible_to(bob).exists()
    Entry.objects.create(couple=couple, author=bob, prompt_key=key, visibility="sealed", text="b")
    assert sorted(Entry.objects.visible_to(bob).values_list("text", flat=True)) == ["a", "b"]
