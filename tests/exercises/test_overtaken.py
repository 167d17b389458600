"""Actions overtaken by another: double clicks, retried requests, and the partner
ending the exercise at the moment an answer is sent. Nothing written is lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from exercises import engine
from exercises.models import Entry, Session
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple


def post(client, session: Session, **data):
    return client.post(
        reverse("exercise_act", args=[session.pk]), data, headers={"HX-Request": "true"}
    )


def to_first_write(session: Session) -> Session:
    while engine.current_step(session).kind != "write":
        session = engine.act(session.pk, session.couple_id, 1, "next", {"step": session.step})
    return session


@pytest.fixture
def checkin(couple, alice) -> Session:
    return to_first_write(engine.start(couple, alice, 1, "weekly_checkin", "two_devices", {}))


def test_a_double_click_on_next_moves_one_step(couple, alice, alice_client):
    session = engine.start(couple, alice, 1, "temperature", "two_devices", {})
    assert session.step == 0
    for _ in range(2):
        assert post(alice_client, session, action="next", step=0).status_code == 200
    session.refresh_from_db()
    assert session.step == 1


def test_a_double_click_on_an_answer_keeps_one_and_shows_no_error(checkin, alice_client):
    step = checkin.step
    first = post(alice_client, checkin, action="submit", text="a good week", step=step)
    again = post(alice_client, checkin, action="submit", text="a good week", step=step)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "form-errors" not in again.content.decode()
    assert Entry.objects.filter(session=checkin).count() == 1


def test_an_answer_sent_after_the_partner_ended_is_saved_and_said_so(checkin, alice, bob_client):
    step = checkin.step
    assert post(bob_client, checkin, action="end", step=step).status_code == 200
    response = post(logged_in(alice), checkin, action="submit", text="late but kept", step=step)
    assert response.status_code == 200
    assert engine.ENDED_BUT_KEPT.split(".")[0] in response.content.decode()
    entry = Entry.objects.get(session=checkin, author=alice)
    assert entry.text == "late but kept"
    summary = logged_in(alice).get(reverse("exercise_summary", args=[checkin.pk]))
    assert "late but kept" in summary.content.decode()


def test_words_that_fit_no_step_are_handed_back(checkin, alice, bob_client):
    post(bob_client, checkin, action="end", step=checkin.step)
    # A note for a turn on a check-in that has no such step: nowhere to keep it.
    response = post(logged_in(alice), checkin, action="turn_done", note="my words", step=0)
    assert response.status_code == 409
    page = response.content.decode()
    assert 'id="unsent-words"' in page and "my words" in page
    assert not Entry.objects.filter(session=checkin).exists()


def test_a_turn_note_sent_as_the_partner_skips_ahead_is_kept(couple, alice, bob):
    session = engine.start(couple, alice, 1, "temperature", "two_devices", {})
    while not engine.current_step(session).optional:
        seat = session.turn_seat or 1
        action = "turn_done" if engine.current_step(session).kind == "turns" else "next"
        session = engine.act(session.pk, couple.pk, seat, action, {"step": session.step})
    turn_step = session.step
    speaker = session.turn_seat
    writer = alice if speaker == 1 else bob
    other = bob if writer == alice else alice
    post(logged_in(other), session, action="skip", step=turn_step)
    session.refresh_from_db()
    assert session.step == turn_step + 1
    response = post(
        logged_in(writer), session, action="turn_done", note="thanks for", step=turn_step
    )
    assert response.status_code == 200
    assert engine.MOVED_ON_BUT_KEPT in response.content.decode()
    assert Entry.objects.get(session=session, author=writer).text == "thanks for"
    session.refresh_from_db()
    assert session.step == turn_step + 1  # nothing else changed


def test_ending_twice_is_not_an_error(checkin, alice_client, bob_client):
    assert post(alice_client, checkin, action="end", step=checkin.step).status_code == 200
    assert post(bob_client, checkin, action="end", step=checkin.step).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(20))
def test_an_answer_racing_the_end_is_saved_or_handed_back(round_):
    """Submit and end released together, 20 times: the answer is never lost."""
    alice, bob = UserFactory(), UserFactory()
    couple = make_couple(alice, bob)
    session = to_first_write(engine.start(couple, alice, 1, "weekly_checkin", "two_devices", {}))
    text = f"racing words {round_}"
    barrier = threading.Barrier(2)
    responses = {}

    def run(who, user, data):
        client = logged_in(user)
        try:
            barrier.wait(timeout=10)
            responses[who] = post(client, session, **data)
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run,
            args=("writer", alice, {"action": "submit", "text": text, "step": session.step}),
        ),
        threading.Thread(target=run, args=("ender", bob, {"action": "end", "step": session.step})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert responses["ender"].status_code == 200
    saved = Entry.objects.filter(session=session, author=alice, text=text).exists()
    handed_back = text in responses["writer"].content.decode()
    assert saved, (responses["writer"].status_code, handed_back)
    assert Session.objects.get(pk=session.pk).status == Session.Status.ENDED
