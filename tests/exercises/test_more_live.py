"""The question ladder, weekly check-in, hug and stress-reducing conversation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from exercises import engine
from exercises.content import load
from exercises.engine import ActionError
from exercises.forms import StartForm
from exercises.kinds.weekly_checkin import sections
from exercises.models import Entry, Session, Visibility
from tests.conftest import forget_whole_pages
from tests.factories import UserFactory

TWO_DEVICES = Session.Mode.TWO_DEVICES
ONE_SCREEN = Session.Mode.ONE_SCREEN
ALICE, BOB = 1, 2  # their seats in the couple fixture


def begin(couple, user, kind, mode=TWO_DEVICES, **settings) -> Session:
    seat = couple.memberships.get(user=user).seat
    return engine.start(couple, user, seat, kind, mode, settings)


def act(session: Session, seat: int, action: str, **data) -> Session:
    """One partner's action; checks that every change bumps the version."""
    before = session.version
    after = engine.act(session.pk, session.couple_id, seat, action, data)
    assert after.version > before
    return after


def step_of(session: Session) -> engine.Step | None:
    return engine.current_step(session)


def refused(session: Session, seat: int, action: str, **data) -> ActionError:
    with pytest.raises(ActionError) as caught:
        engine.act(session.pk, session.couple_id, seat, action, data)
    return caught.value


def session_url(session: Session, name: str = "exercise_session") -> str:
    return reverse(name, args=[session.pk])


# --- question ladder ---------------------------------------------------------


def ladder_questions() -> list[dict]:
    return load("ladder")["question"]


def take_turns(session: Session) -> Session:
    """Both answer the current question, whoever's turn it is first."""
    session = act(session, session.turn_seat, "turn_done")
    return act(session, session.turn_seat, "turn_done")


def test_the_ladder_asks_all_36_questions_in_order_with_the_reader_alternating(couple, bob):
    session = begin(couple, bob, "ladder")
    assert session.status == Session.Status.ACTIVE
    session = act(session, ALICE, "next")  # the intro

    asked, readers, set_breaks = [], [], []
    while session.is_active and step_of(session).kind != "timer":
        step = step_of(session)
        if step.kind == "info":
            set_breaks.append(step.title)
            session = act(session, BOB, "next")
            continue
        asked.append(step.key)
        readers.append(session.turn_seat)
        assert session.turn_seat == step.first
        session = take_turns(session)

    assert asked == [q["key"] for q in ladder_questions()]
    assert len(asked) == 36
    # Bob started, so Bob reads first; then they swap, question by question.
    assert readers == [BOB, ALICE] * 18
    assert set_breaks == ["Set 2: Opening up", "Set 3: Closer still"]
    assert step_of(session).seconds == 240


def test_each_ladder_question_shows_its_set_and_number(couple, alice):
    session = begin(couple, alice, "ladder")
    titles = [s.title for s in engine.flow_for(session).steps(session) if s.kind == "turns"]
    assert titles[0] == "Set 1, Warming up: question 1 of 12"
    assert titles[12] == "Set 2, Opening up: question 1 of 12"
    assert titles[35] == "Set 3, Closer still: question 12 of 12"


def test_the_ladder_ends_with_four_minutes_of_eye_contact_when_chosen(couple, alice):
    session = begin(couple, alice, "ladder", eye_contact=True)
    steps = engine.flow_for(session).steps(session)
    session.step = len(steps) - 1
    session.save()
    assert step_of(session).kind == "timer"

    session = act(session, ALICE, "ready")
    assert session.timer_started_at is None
    session = act(session, BOB, "ready")
    assert session.timer_running
    session = act(session, BOB, "next")
    assert session.status == Session.Status.FINISHED
    assert session.finished_at is not None


def test_the_ladder_finishes_after_the_last_question_without_eye_contact(couple, alice):
    session = begin(couple, alice, "ladder", eye_contact=False)
    steps = engine.flow_for(session).steps(session)
    assert steps[-1].key == "s3-12"
    assert all(s.kind != "timer" for s in steps)
    session.step = len(steps) - 1
    session.save()
    session = take_turns(session)
    assert session.status == Session.Status.FINISHED


def test_the_final_eye_contact_can_be_skipped_on_the_night(couple, alice):
    session = begin(couple, alice, "ladder")
    session.step = len(engine.flow_for(session).steps(session)) - 1
    session.save()
    session = act(session, BOB, "skip")
    assert session.status == Session.Status.FINISHED


def test_ladder_questions_cannot_be_skipped(couple, alice):
    session = act(begin(couple, alice, "ladder"), ALICE, "next")
    error = refused(session, ALICE, "skip")
    assert error.status == 409
    session.refresh_from_db()
    assert step_of(session).key == "s1-01"


def test_answering_out_of_turn_is_refused_on_two_devices(couple, alice):
    session = act(begin(couple, alice, "ladder"), ALICE, "next")
    assert session.turn_seat == ALICE
    version = session.version
    error = refused(session, BOB, "turn_done")
    assert error.status == 403
    session.refresh_from_db()
    assert session.version == version
    assert session.done_seats == []


def test_on_one_screen_either_partner_moves_the_turn_on(couple, alice):
    session = act(begin(couple, alice, "ladder", mode=ONE_SCREEN), ALICE, "next")
    session = act(session, BOB, "turn_done")  # Bob taps for Alice, the reader
    assert session.done_seats == [ALICE]
    assert session.turn_seat == BOB
    session = act(session, BOB, "turn_done")
    assert step_of(session).key == "s1-02"
    assert session.turn_seat == BOB  # Bob reads the next one


def test_the_ladder_settings_form_defaults_to_eye_contact(couple, alice_client):
    html = alice_client.get(reverse("exercises")).content.decode()
    assert "Finish with four minutes of eye contact" in html
    checkbox = re.search(r'<input[^>]*name="ladder-eye_contact"[^>]*>', html)
    assert checkbox is not None and "checked" in checkbox.group()


def test_starting_the_ladder_without_eye_contact_is_remembered(couple, alice_client):
    response = alice_client.post(
        reverse("exercise_start", args=["ladder"]), {"ladder-mode": TWO_DEVICES}
    )
    session = Session.objects.get(couple=couple)
    assert response.status_code == 302
    assert session.settings == {"eye_contact": False}
    assert session.state["first_seat"] == ALICE


def test_the_ladder_can_be_resumed_by_either_partner_on_another_evening(
    couple, alice, alice_client, bob_client
):
    monday = timezone.now()
    with time_machine.travel(monday, tick=False):
        session = act(begin(couple, alice, "ladder"), ALICE, "next")
        for _ in range(3):
            session = take_turns(session)
        assert step_of(session).key == "s1-04"
        assert session.turn_seat == BOB

    with time_machine.travel(monday + timedelta(days=2), tick=False):
        question = escape(ladder_questions()[3]["text"])
        page = bob_client.get(session_url(session))
        assert page.status_code == 200
        assert question in page.content.decode()
        assert "Your turn." in page.content.decode()
        # Starting again joins the same session rather than beginning anew.
        assert begin(couple, alice, "ladder").pk == session.pk
        bob_client.post(session_url(session, "exercise_act"), {"action": "turn_done"})
        session.refresh_from_db()
        assert session.is_active
        assert session.turn_seat == ALICE
        assert question in alice_client.get(session_url(session)).content.decode()


# --- weekly check-in ----------------------------------------------------------

WEEKLY_KEYS = ["went-well", "do-better", "need-next-week"]


def test_the_weekly_check_in_is_three_sealed_prompts_then_all_side_by_side(couple, alice):
    session = begin(couple, alice, "weekly_checkin")
    session = act(session, ALICE, "next")
    for key in WEEKLY_KEYS:
        step = step_of(session)
        assert (step.key, step.kind, step.visibility) == (key, "write", Visibility.SEALED)
        session = act(session, ALICE, "submit", text=f"Alice on {key}")
        assert step_of(session).key == key  # waiting for Bob
        session = act(session, BOB, "submit", text=f"Bob on {key}")

    reveal = step_of(session)
    assert reveal.kind == "reveal"
    assert reveal.reveal_of == tuple(WEEKLY_KEYS)
    session = act(session, BOB, "next")
    assert session.status == Session.Status.FINISHED

    entries = Entry.objects.filter(session=session)
    assert entries.count() == 6
    assert set(entries.values_list("visibility", flat=True)) == {Visibility.SEALED}
    assert set(entries.values_list("prompt_key", flat=True)) == {
        f"weekly_checkin:{key}" for key in WEEKLY_KEYS
    }


def test_the_weekly_check_in_needs_two_devices(couple):
    flow = engine.REGISTRY["weekly_checkin"]
    assert [value for value, _ in StartForm(flow=flow).fields["mode"].choices] == [TWO_DEVICES]


def test_a_partner_cannot_answer_for_the_other_on_two_devices(couple, alice, bob):
    session = act(begin(couple, alice, "weekly_checkin"), ALICE, "next")
    session = act(session, BOB, "submit", text="Mine", as_seat=ALICE)
    assert session.done_seats == [BOB]
    assert Entry.objects.get(session=session).author == bob


def test_it_hides_a_sealed_weekly_answer_until_both_answered(couple, alice, bob_client):
    session = act(begin(couple, alice, "weekly_checkin"), ALICE, "next")
    old_version = session.version
    secret = "The Sunday walk by the river"
    session = act(session, ALICE, "submit", text=secret)

    page = bob_client.get(session_url(session)).content.decode()
    assert "Alice has answered." in page
    assert secret not in page
    poll = bob_client.get(session_url(session, "exercise_poll"), {"v": old_version})
    assert poll.status_code == 200
    assert secret not in poll.content.decode()
    assert secret not in bob_client.get(reverse("weekly_checkins")).content.decode()

    bob_client.post(
        session_url(session, "exercise_act"), {"action": "submit", "text": "Cooking together"}
    )
    assert secret in bob_client.get(reverse("weekly_checkins")).content.decode()
    session.refresh_from_db()
    for key in WEEKLY_KEYS[1:]:
        session = act(session, ALICE, "submit", text=f"Alice on {key}")
        session = act(session, BOB, "submit", text=f"Bob on {key}")
    reveal = bob_client.get(session_url(session)).content.decode()
    assert secret in reveal
    assert "Alice on need-next-week" in reveal


def test_the_poll_answers_nothing_new_while_the_version_is_unchanged(couple, alice, bob_client):
    session = begin(couple, alice, "weekly_checkin")
    poll = bob_client.get(session_url(session, "exercise_poll"), {"v": session.version})
    assert poll.status_code == 204


def make_week(couple, alice, bob, when, answers: dict[str, tuple[str | None, str | None]]):
    """A finished check-in from ``when``; ``answers`` maps a prompt to (Alice's, Bob's)."""
    session = Session.objects.create(
        couple=couple,
        kind="weekly_checkin",
        status=Session.Status.FINISHED,
        started_by=alice,
        created_at=when,
        finished_at=when + timedelta(minutes=30),
    )
    for key, texts in answers.items():
        for author, text in zip((alice, bob), texts, strict=True):
            if text is not None:
                Entry.objects.create(
                    couple=couple,
                    session=session,
                    author=author,
                    prompt_key=f"weekly_checkin:{key}",
                    visibility=Visibility.SEALED,
                    text=text,
                )
    return session


def full_week(couple, alice, bob, when, label: str):
    return make_week(
        couple, alice, bob, when, {k: (f"A {label} {k}", f"B {label} {k}") for k in WEEKLY_KEYS}
    )


def test_the_weekly_page_shows_each_week_newest_first_answers_side_by_side(
    couple, alice, bob, alice_client
):
    now = timezone.now()
    full_week(couple, alice, bob, now - timedelta(days=14), "older")
    full_week(couple, alice, bob, now - timedelta(days=7), "newer")
    html = alice_client.get(reverse("weekly_checkins")).content.decode()
    assert html.index("A newer went-well") < html.index("A older went-well")
    assert html.index("A newer went-well") < html.index("B newer went-well")
    assert html.index("B newer went-well") < html.index("A newer do-better")
    for section in sections():
        assert section["title"] in html


def test_an_answer_the_partner_never_matched_stays_sealed_on_the_weekly_page(
    couple, alice, bob, alice_client, bob_client
):
    make_week(
        couple,
        alice,
        bob,
        timezone.now() - timedelta(days=7),
        {"went-well": ("Alice alone", None), "do-better": ("Alice too", "Bob too")},
    )
    bob_page = bob_client.get(reverse("weekly_checkins")).content.decode()
    assert "Alice alone" not in bob_page
    assert "Alice too" in bob_page
    alice_page = alice_client.get(reverse("weekly_checkins")).content.decode()
    assert "Alice alone" in alice_page


def test_the_weekly_page_shows_the_last_12_weeks(couple, alice, bob, alice_client):
    now = timezone.now()
    for week in range(14):
        full_week(couple, alice, bob, now - timedelta(weeks=week + 1), f"w{week:02d}")
    html = alice_client.get(reverse("weekly_checkins")).content.decode()
    assert "A w11 went-well" in html
    assert "A w12 went-well" not in html
    assert html.count('class="card week"') == 12


@pytest.mark.parametrize("weeks", [1, 20])
def test_the_weekly_page_costs_the_same_queries_however_many_weeks(
    couple, alice, bob, alice_client, django_assert_num_queries, weeks
):
    now = timezone.now()
    for week in range(weeks):
        full_week(couple, alice, bob, now - timedelta(weeks=week + 1), f"w{week}")
    alice_client.get(reverse("weekly_checkins"))  # warm the session cache
    forget_whole_pages()  # what the view costs, not the page kept whole
    # the viewer (user, seat, space, partner), sessions, their visible entries with authors
    with django_assert_num_queries(3):
        response = alice_client.get(reverse("weekly_checkins"))
    assert response.status_code == 200
    assert "A w0 went-well" in response.content.decode()


def test_outsiders_never_see_a_couples_weekly_check_ins(couple, alice, bob, charlie_client):
    full_week(couple, alice, bob, timezone.now() - timedelta(days=7), "ours")
    page = charlie_client.get(reverse("weekly_checkins"))
    assert page.status_code == 200
    assert "A ours went-well" not in page.content.decode()
    assert "No check-ins yet" in page.content.decode()


def test_the_weekly_page_needs_a_login_and_a_space(client, db):
    response = client.get(reverse("weekly_checkins"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url

    loner = UserFactory()
    client.force_login(loner)
    response = client.get(reverse("weekly_checkins"))
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


# --- hug ----------------------------------------------------------------------


def test_the_hug_is_an_intro_then_a_twenty_second_timer(couple, alice):
    session = begin(couple, alice, "hug")
    assert engine.flow_for(session).settings_form is not None
    session = act(session, BOB, "next")
    step = step_of(session)
    assert (step.kind, step.seconds) == ("timer", 20)
    assert refused(session, ALICE, "next").status == 409  # the timer hasn't run
    session = act(session, ALICE, "ready")
    session = act(session, BOB, "ready")
    assert session.timer_running
    session = act(session, ALICE, "next")
    assert session.status == Session.Status.FINISHED


def test_a_long_hug_lasts_five_minutes_and_one_tap_starts_it_on_one_screen(couple, alice):
    session = begin(couple, alice, "hug", mode=ONE_SCREEN, seconds=300)
    session = act(session, ALICE, "next")
    assert step_of(session).seconds == 300
    session = act(session, ALICE, "ready")
    assert session.timer_running


def test_a_hug_length_that_isnt_offered_falls_back_to_twenty_seconds(couple, alice):
    session = begin(couple, alice, "hug", seconds=3)
    assert session.settings == {"seconds": 20}


# --- stress-reducing conversation ----------------------------------------------


def test_the_stress_talk_gives_each_a_timed_turn_with_an_optional_note(couple, alice, bob):
    session = begin(couple, alice, "stress_talk", minutes=15)
    intro = step_of(session)
    assert intro.extra["points"] == load("stress_talk")["listener_rules"]
    session = act(session, BOB, "next")

    talk = step_of(session)
    assert (talk.kind, talk.seconds, talk.note) == ("turns", 900, True)
    assert session.turn_seat == ALICE
    session = act(session, ALICE, "start_timer")
    session = act(
        session, ALICE, "turn_done", note="Deadline on Friday", visibility=Visibility.PRIVATE
    )
    assert session.turn_seat == BOB
    assert not session.timer_running and session.timer_elapsed_ms == 0
    session = act(session, BOB, "turn_done", note="My mother's visit", visibility="shared")
    assert session.status == Session.Status.FINISHED

    notes = {e.author: e for e in Entry.objects.filter(session=session)}
    assert notes[alice].visibility == Visibility.PRIVATE
    assert notes[bob].visibility == Visibility.SHARED
    assert list(Entry.objects.filter(session=session).visible_to(bob)) == [notes[bob]]


def test_a_stress_talk_note_without_a_choice_stays_private(couple, alice):
    session = act(begin(couple, alice, "stress_talk"), ALICE, "next")
    assert step_of(session).seconds == 600
    session = act(session, ALICE, "turn_done", note="Just for me")
    assert Entry.objects.get(session=session).visibility == Visibility.PRIVATE


def test_the_listener_cannot_run_the_speakers_turn_on_two_devices(couple, alice):
    session = act(begin(couple, alice, "stress_talk"), ALICE, "next")
    assert refused(session, BOB, "start_timer").status == 403
    assert refused(session, BOB, "turn_done", note="Not mine").status == 403
    assert not Entry.objects.filter(session=session).exists()


def test_the_stress_talk_timer_pauses_and_resumes(couple, alice):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        session = act(begin(couple, alice, "stress_talk"), ALICE, "next")
        session = act(session, ALICE, "start_timer")
        clock.shift(30)
        session = act(session, BOB, "pause")  # either may pause, e.g. for a phone call
        assert not session.timer_running
        assert session.timer_elapsed() == 30_000
        clock.shift(120)
        session.refresh_from_db()
        assert session.timer_elapsed() == 30_000
        session = act(session, ALICE, "resume")
        clock.shift(10)
        session.refresh_from_db()
        assert session.timer_running
        assert session.timer_elapsed() == 40_000


def test_the_speaker_and_the_listener_see_their_own_guidance(
    couple, alice, alice_client, bob_client
):
    text = load("stress_talk")
    session = act(begin(couple, alice, "stress_talk"), ALICE, "next")
    speaker_page = alice_client.get(session_url(session)).content.decode()
    listener_page = bob_client.get(session_url(session)).content.decode()
    speaker_line, a_rule = escape(text["speaker"]), escape(text["listener_rules"][1])
    assert "Your turn." in speaker_page
    assert speaker_line in speaker_page and a_rule not in speaker_page
    assert a_rule in listener_page and speaker_line not in listener_page
    assert 'value="start_timer"' in speaker_page
    assert 'value="start_timer"' not in listener_page


def test_the_stress_talk_rules_are_a_list(couple, alice, alice_client):
    session = begin(couple, alice, "stress_talk")
    html = alice_client.get(session_url(session)).content.decode()
    rules = load("stress_talk")["listener_rules"]
    assert html.count("<li>") >= len(rules)


# --- every one of them ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["ladder", "weekly_checkin", "hug", "stress_talk"])
def test_both_partners_reloading_see_the_same_step(couple, alice, alice_client, bob_client, kind):
    session = act(begin(couple, alice, kind), ALICE, "next")
    title = step_of(session).title
    for client in (alice_client, bob_client):
        page = client.get(session_url(session))
        assert page.status_code == 200
        assert title in page.content.decode()
        assert f"Step 2 of {len(engine.flow_for(session).steps(session))}" in (
            page.content.decode()
        )


@pytest.mark.parametrize("kind", ["ladder", "weekly_checkin", "hug", "stress_talk"])
def test_a_finished_session_refuses_more_actions(couple, alice, alice_client, kind):
    session = begin(couple, alice, kind)
    session = act(session, ALICE, "end")
    assert session.status == Session.Status.ENDED
    response = alice_client.post(session_url(session, "exercise_act"), {"action": "next"})
    assert response.status_code == 409
    assert refused(session, BOB, "next").status == 409


@pytest.mark.parametrize("kind", ["ladder", "weekly_checkin", "hug", "stress_talk"])
def test_another_couples_session_is_not_found(couple, alice, charlie_client, kind):
    session = begin(couple, alice, kind)
    assert charlie_client.get(session_url(session)).status_code == 404
    assert charlie_client.get(session_url(session, "exercise_poll"), {"v": 0}).status_code == 404
    response = charlie_client.post(session_url(session, "exercise_act"), {"action": "next"})
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.step == 0
    assert session.version == 1


@pytest.mark.parametrize("kind", ["ladder", "weekly_checkin", "hug", "stress_talk"])
def test_each_flow_says_what_it_is(kind):
    flow = engine.REGISTRY[kind]
    assert flow.title and flow.summary and flow.minutes
