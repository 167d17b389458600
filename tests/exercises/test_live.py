"""The live engine: eye gazing, temperature reading, love maps; polls and the dashboard."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from couples import services
from exercises import engine
from exercises.engine import ActionError
from exercises.kinds import love_maps
from exercises.models import Entry, Session
from tests.conftest import forget_cached_pages, logged_in
from tests.exports import download_export


def start(couple, user, kind, seat=1, mode="two_devices", **settings):
    return engine.start(couple, user, seat, kind, mode, settings)


def act(session, seat, action, **data):
    return engine.act(session.pk, session.couple_id, seat, action, data)


def stage(client, session) -> str:
    return client.get(reverse("exercise_session", args=[session.pk])).content.decode()


# --- eye gazing and timers ------------------------------------------------


def test_eye_gazing_timer_starts_only_when_both_are_ready(couple, alice):
    session = start(couple, alice, "eye_gazing", seconds=180)
    session = act(session, 1, "next")
    assert engine.current_step(session).kind == "timer"
    session = act(session, 1, "ready")
    assert session.timer_started_at is None and session.done_seats == [1]
    version = session.version
    session = act(session, 2, "ready")
    assert session.timer_running and session.timer_started_at is not None
    assert session.version == version + 1


def test_either_partner_can_pause_and_resume_and_time_adds_up(couple, alice):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        session = start(couple, alice, "eye_gazing", seconds=120)
        session = act(session, 1, "next")
        act(session, 1, "ready")
        session = act(session, 2, "ready")
        clock.shift(30)
        session = act(session, 2, "pause")
        assert session.timer_elapsed() == 30_000
        clock.shift(100)  # paused time doesn't count
        assert session.timer_elapsed() == 30_000
        session = act(session, 1, "resume")
        clock.shift(15)
        assert session.timer_elapsed() == 45_000


def test_one_screen_needs_one_press_to_start(couple, alice):
    session = start(couple, alice, "eye_gazing", mode="one_screen")
    session = act(session, 1, "next")
    session = act(session, 1, "ready")
    assert session.timer_running


def test_continuing_before_the_timer_started_is_refused(couple, alice):
    session = act(start(couple, alice, "eye_gazing"), 1, "next")
    with pytest.raises(ActionError) as caught:
        act(session, 1, "next")
    assert caught.value.status == 409


def test_a_whole_eye_gazing_session_reaches_the_history(couple, alice, alice_client):
    session = start(couple, alice, "eye_gazing", seconds=120, gentle=True)
    for seat, action, data in [
        (1, "next", {}),
        (1, "ready", {}),
        (2, "ready", {}),
        (2, "next", {}),
        (1, "submit", {"text": "calmer than I thought"}),
        (2, "submit", {"text": "I laughed first"}),
        (1, "next", {}),
    ]:
        session = act(session, seat, action, **data)
    assert session.status == "finished" and session.finished_at is not None
    dashboard = alice_client.get("/").content.decode()
    assert "Eye gazing</a>" in dashboard
    summary = alice_client.get(reverse("exercise_summary", args=[session.pk])).content.decode()
    assert "calmer than I thought" in summary and "I laughed first" in summary


def test_the_start_form_rejects_a_custom_length_over_ten_minutes(couple, alice_client):
    response = alice_client.post(
        reverse("exercise_start", args=["eye_gazing"]),
        {
            "eye_gazing-mode": "two_devices",
            "eye_gazing-length": "0",
            "eye_gazing-custom_minutes": "12",
        },
    )
    assert response.status_code == 422
    assert "less than or equal to 10" in response.content.decode()
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"eye_gazing-mode": "two_devices"}, "This field is required."),
        (
            {
                "eye_gazing-mode": "two_devices",
                "eye_gazing-length": "0",
                "eye_gazing-custom_minutes": "12",
            },
            "Ensure this value is less than or equal to 10.",
        ),
    ],
)
def test_each_problem_of_the_start_form_is_said_once(couple, alice_client, posted, message):
    response = alice_client.post(reverse("exercise_start", args=["eye_gazing"]), posted)
    assert response.status_code == 422
    assert response.content.decode().count(message) == 1


def test_starting_while_one_is_going_opens_the_one_going(couple, alice, bob_client):
    going = start(couple, alice, "eye_gazing")
    response = bob_client.post(
        reverse("exercise_start", args=["temperature"]), {"temperature-mode": "two_devices"}
    )
    assert response.url == reverse("exercise_session", args=[going.pk])
    assert Session.objects.count() == 1


# --- temperature reading: turns --------------------------------------------


def test_the_temperature_reading_goes_in_turns_in_order(couple, alice):
    session = act(start(couple, alice, "temperature"), 1, "next")
    assert engine.current_step(session).key == "appreciations"
    assert session.turn_seat == 1
    with pytest.raises(ActionError) as caught:
        act(session, 2, "turn_done")
    assert caught.value.status == 403
    session = act(session, 1, "turn_done", note="thank you for the soup", visibility="shared")
    assert session.turn_seat == 2
    session = act(session, 2, "turn_done")
    assert engine.current_step(session).key == "new-information"
    keys = []
    while session.is_active:
        step = engine.current_step(session)
        keys.append(step.key)
        session = (
            act(session, 1, "skip")
            if step.optional
            else act(
                act(session, session.turn_seat, "turn_done"), 3 - session.turn_seat, "turn_done"
            )
        )
    assert keys == ["new-information", "puzzles", "complaint-request", "hopes"]


def test_appreciation_and_hopes_cannot_be_skipped(couple, alice):
    session = act(start(couple, alice, "temperature"), 1, "next")
    with pytest.raises(ActionError):
        act(session, 1, "skip")


def test_a_private_note_never_reaches_the_partner(couple, alice, bob):
    session = act(start(couple, alice, "temperature"), 1, "next")
    session = act(session, 1, "turn_done", note="my secret worry", visibility="private")
    bob_client, alice_client = logged_in(bob), logged_in(alice)
    assert "my secret worry" in stage(alice_client, session)
    assert "my secret worry" not in stage(bob_client, session)
    poll = bob_client.get(reverse("exercise_poll", args=[session.pk]), {"v": 0})
    assert "my secret worry" not in poll.content.decode()
    act(session, 1, "end")
    summary = bob_client.get(reverse("exercise_summary", args=[session.pk])).content.decode()
    assert "my secret worry" not in summary
    export = download_export(bob_client).content.decode()
    assert "my secret worry" not in export
    assert "my secret worry" in download_export(logged_in(alice)).content.decode()


# --- love maps: sealed answers ---------------------------------------------


def test_a_love_maps_round_keeps_the_answer_sealed_until_the_guess(couple, alice, bob):
    session = act(start(couple, alice, "love_maps"), 1, "next")
    bob_client = logged_in(bob)
    question = escape(engine.current_step(session).prompt)
    assert question in stage(bob_client, session)
    session = act(session, 1, "submit", text="my aunt Ruth")
    for html in (
        stage(bob_client, session),
        bob_client.get(reverse("exercise_poll", args=[session.pk]), {"v": 1}).content.decode(),
    ):
        assert "my aunt Ruth" not in html
    assert not Entry.objects.filter(session=session).visible_to(bob).filter(author=alice).exists()
    with pytest.raises(ActionError):
        act(session, 1, "submit", text="answering my own guess")
    session = act(session, 2, "submit", text="your aunt?")
    page = stage(bob_client, session)
    assert "my aunt Ruth" in page and "your aunt?" in page
    with pytest.raises(ActionError) as caught:
        act(session, 2, "rate", rating="spot_on")
    assert caught.value.status == 403
    session = act(session, 1, "rate", rating="close", story="great-aunt, in fact")
    assert engine.current_step(session).key == "again-1"
    session = act(session, 2, "again")
    assert engine.current_step(session).key == "answer-2"
    assert engine.current_step(session).writers == (2,)  # roles swapped
    rows = {row["key"]: row for row in love_maps.knowledge_map(couple)}
    category = session.state["rounds"][0]["question"]
    explored = [row for row in rows.values() if row["explored"]]
    assert len(explored) == 1 and explored[0]["percent"] == 50
    assert category in love_maps.questions()


def test_a_bad_rating_is_refused_and_nothing_is_saved(couple, alice):
    session = act(start(couple, alice, "love_maps"), 1, "next")
    session = act(act(session, 1, "submit", text="a"), 2, "submit", text="b")
    with pytest.raises(ActionError) as caught:
        act(session, 1, "rate", rating="perfect")
    assert caught.value.status == 422
    assert not Entry.objects.filter(prompt_key__endswith="-rating").exists()


# --- the pages: errors, outsiders, finished sessions ------------------------


def test_posting_to_a_finished_session_is_409(couple, alice, alice_client):
    session = act(
        start(couple, alice, "hug" if "hug" in engine.REGISTRY else "eye_gazing"), 1, "end"
    )
    response = alice_client.post(
        reverse("exercise_act", args=[session.pk]), {"action": "next"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert "already finished" in response.content.decode()


def test_an_outsider_gets_404_everywhere_and_changes_nothing(couple, alice, charlie_client):
    session = start(couple, alice, "eye_gazing")
    for name in ("exercise_session", "exercise_poll", "exercise_summary"):
        assert charlie_client.get(reverse(name, args=[session.pk])).status_code == 404
    response = charlie_client.post(reverse("exercise_act", args=[session.pk]), {"action": "end"})
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.is_active


def test_an_unknown_action_is_refused_with_the_stage(couple, alice, alice_client):
    session = start(couple, alice, "eye_gazing")
    response = alice_client.post(
        reverse("exercise_act", args=[session.pk]), {"action": "dance"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert 'id="stage"' in response.content.decode()


def test_leaving_and_coming_back_resumes_the_same_step(couple, alice, bob):
    session = act(start(couple, alice, "temperature"), 1, "next")
    act(session, 1, "turn_done")
    page = stage(logged_in(bob), session)
    assert "Your turn." in page and engine.current_step(session).title in page


def test_the_session_page_costs_one_query_and_opens_only_in_its_space(
    couple, alice, bob, bob_client, charlie, charlie_client
):
    """The session is read with the viewer (``row_required``): one query for its
    partners; another space's session, or any session once one has left, is not theirs."""
    session = start(couple, alice, "eye_gazing")
    url = reverse("exercise_session", args=[session.pk])
    bob_client.get("/")  # warm the session cache as a real page load does
    with CaptureQueriesContext(connection) as queries:
        response = bob_client.get(url)
    assert response.status_code == 200
    assert f'data-version="{session.version}"' in response.content.decode()
    assert len(queries) == 1, [q["sql"] for q in queries]
    # Charlie's own session opens for Charlie, and Bob's is a 404 for Charlie.
    theirs = start(charlie.memberships.get().couple, charlie, "eye_gazing")
    assert charlie_client.get(reverse("exercise_session", args=[theirs.pk])).status_code == 200
    assert charlie_client.get(url).status_code == 404
    assert bob_client.get(reverse("exercise_session", args=[theirs.pk])).status_code == 404
    # Once Bob has left, the page sends him to start a space again.
    services.leave_couple(bob)
    response = bob_client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


# --- polling ---------------------------------------------------------------


def test_a_poll_with_nothing_new_is_204_and_one_query(couple, alice, bob_client):
    session = start(couple, alice, "eye_gazing")
    url = reverse("exercise_poll", args=[session.pk])
    bob_client.get("/")  # warm the session cache as a real page load does
    with CaptureQueriesContext(connection) as queries:
        response = bob_client.get(url, {"v": session.version})
    assert response.status_code == 204
    assert response.content == b""
    assert len(queries) <= 1, [q["sql"] for q in queries]


def test_a_poll_after_a_change_returns_the_new_stage(couple, alice, bob_client):
    session = start(couple, alice, "eye_gazing")
    old = session.version
    act(session, 1, "next")
    response = bob_client.get(reverse("exercise_poll", args=[session.pk]), {"v": old})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="stage"')
    assert f"v={old + 1}" in html


def test_polls_refuse_visitors_and_a_changed_password(couple, alice, bob, client):
    session = start(couple, alice, "eye_gazing")
    url = reverse("exercise_poll", args=[session.pk])
    assert client.get(url, {"v": 0}).status_code == 404
    bob_client = logged_in(bob)
    bob.set_password("a-brand-new-password-123")
    bob.save()
    assert bob_client.get(url, {"v": 0}).status_code == 404


def test_the_dashboard_hears_of_a_partners_new_exercise(couple, alice, bob_client):
    url = reverse("exercise_waiting")
    assert bob_client.get(url, {"sig": "0"}).status_code == 204
    session = start(couple, alice, "eye_gazing")
    response = bob_client.get(url, {"sig": "0"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alice</strong> started <strong>eye gazing" in html
    assert reverse("exercise_session", args=[session.pk]) in html
    with CaptureQueriesContext(connection) as queries:
        assert bob_client.get(url, {"sig": str(session.pk)}).status_code == 204
    assert len(queries) <= 1


@pytest.mark.parametrize("kind", ["eye_gazing", "temperature", "love_maps"])
def test_the_dashboard_costs_the_same_with_1_and_200_past_sessions(
    couple, alice, alice_client, kind
):
    counts = []
    for total in (1, 200):
        Session.objects.all().delete()
        Session.objects.bulk_create(
            Session(
                couple=couple,
                kind=kind,
                status="finished",
                created_at=timezone.now() - timedelta(hours=n),
            )
            for n in range(total)
        )
        forget_cached_pages()  # bulk_create doesn't mark the cached regions stale: a cold page
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get("/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_timer_markup_carries_the_servers_reading(couple, alice, bob_client):
    session = act(start(couple, alice, "eye_gazing", seconds=120), 1, "next")
    act(session, 1, "ready")
    session = act(session, 2, "ready")
    html = stage(bob_client, session)
    assert 'data-duration-ms="120000"' in html
    assert 'data-running="1"' in html
    server_now = int(re.search(r'data-server-now="(\d+)"', html).group(1))
    assert abs(server_now - timezone.now().timestamp() * 1000) < 5_000


def test_the_export_holds_my_sealed_answer_but_not_my_partners(couple, alice, bob):
    session = act(start(couple, alice, "love_maps"), 1, "next")
    act(session, 1, "submit", text="alice's sealed answer")
    bob_export = json.loads(download_export(logged_in(bob)).content)
    alice_export = json.loads(download_export(logged_in(alice)).content)
    assert "alice's sealed answer" not in json.dumps(bob_export)
    assert [e["text"] for e in alice_export["exercises"]] == ["alice's sealed answer"]


def test_polls_keep_working_while_the_secret_key_rotates(couple, alice, bob, settings):
    session = start(couple, alice, "eye_gazing")
    bob_client = logged_in(bob)
    url = reverse("exercise_poll", args=[session.pk])
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = [old]
    assert bob_client.get(url, {"v": session.version}).status_code == 204
    settings.SECRET_KEY_FALLBACKS = []
    # As Django's get_user does, the poll under the old key renewed the
    # session under the new one: it outlives the fallback.
    assert bob_client.get(url, {"v": session.version}).status_code == 204
    # A session that wasn't used while the old key was a fallback is over.
    elsewhere = logged_in(alice)
    settings.SECRET_KEY = "a-third-secret-key-" + "y" * 40
    assert elsewhere.get(url, {"v": session.version}).status_code == 404
