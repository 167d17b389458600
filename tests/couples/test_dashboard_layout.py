"""The dashboard as a pair lives in it: a waiting partner first, a first week's
"start here" that steps aside once done, today's question, and everything else
one tap away."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from couples import services
from exercises import daily, engine
from exercises.engine import REGISTRY
from exercises.models import Session
from exercises.templatetags.exercise_menu import groups
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple, make_ritual

STATIC = Path(__file__).resolve().parents[2] / "static"
START_HERE = 'id="start-here-heading"'


def dashboard(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def finished_exercise(couple, user) -> Session:
    session = engine.start(couple, user, 1, "hug", "two_devices", {})
    engine.finish(session, Session.Status.FINISHED)
    session.save()
    return session


def test_a_new_pair_is_shown_three_first_steps(couple, alice_client):
    page = dashboard(alice_client)
    assert START_HERE in page
    for step in ("Pick one ritual to keep", "Try one exercise together", "Answer today's question"):
        assert step in page
    assert "start-step--done" not in page


def test_each_first_step_ticks_and_the_card_steps_aside_once_all_are_done(
    couple, alice, alice_client
):
    make_ritual(couple)
    page = dashboard(alice_client)
    assert page.count("start-step--done") == 1
    finished_exercise(couple, alice)
    assert dashboard(alice_client).count("start-step--done") == 2
    # Answered through the page, as people do: the cached dashboard hears of it.
    response = alice_client.post(reverse("daily_question"), {"text": "The sea."})
    assert response.status_code == 302
    assert START_HERE not in dashboard(alice_client)


def test_the_first_steps_are_each_partners_own_answer(couple, alice, bob_client):
    make_ritual(couple)
    finished_exercise(couple, alice)
    daily.answer(couple, alice, daily.couple_today(couple), "The sea.")
    page = dashboard(bob_client)
    assert START_HERE in page  # Bob hasn't answered a question yet
    assert page.count("start-step--done") == 2


def test_someone_alone_is_asked_to_invite_rather_than_to_start_here(alice, alice_client):
    services.create_space(alice)
    page = dashboard(alice_client)
    assert "Invite your partner" in page
    assert START_HERE not in page


def test_a_partner_waiting_comes_before_todays_rituals(couple, bob, alice_client):
    make_ritual(couple)
    engine.start(couple, bob, 2, "eye_gazing", "two_devices", {})
    page = dashboard(alice_client)
    assert "Bob is waiting for you" in page
    assert page.index("Bob is waiting for you") < page.index('id="rituals-heading"')
    assert page.index("Join Bob") < page.index(START_HERE)


def test_nothing_waiting_leaves_no_empty_box(couple, alice_client):
    page = dashboard(alice_client)
    assert 'id="waiting-card"' in page  # still listening for a partner to start
    assert "waiting-card__body" not in page


def test_todays_question_is_a_card_that_knows_it_was_answered(couple, alice, alice_client):
    question = daily.texts()[daily.question_for(couple, daily.couple_today(couple))]
    page = dashboard(alice_client)
    assert 'class="question-card"' in page
    assert question.replace("'", "&#x27;") in page
    assert "Answer it" in page
    alice_client.post(reverse("daily_question"), {"text": "The sea."})
    page = dashboard(alice_client)
    assert "You've answered." in page and "Answer it" not in page


def test_the_dashboard_links_every_page_of_the_menu(couple, alice_client):
    page = dashboard(alice_client)
    for group in groups():
        for item in group.items:
            assert f'href="{item.url}"' in page, item.key


def test_the_exercises_page_groups_today_together_and_in_your_own_time(couple, alice_client):
    page = alice_client.get(reverse("exercises")).content.decode()
    for group in groups():
        assert f'id="{group.key}-heading">{group.title}</h2>' in page
        for item in group.items:
            if group.key == "together":  # a card with its start form
                assert f'id="exercise-{item.key}"' in page
            else:
                assert f'href="{item.url}"' in page, item.key


def test_each_exercise_and_page_of_the_menu_has_its_own_picture():
    keys = {item.key for group in groups() for item in group.items} | set(REGISTRY)
    missing = sorted(key for key in keys if not (STATIC / "img" / "ex" / f"{key}.svg").is_file())
    assert missing == []


def test_the_menu_offers_the_rhythm_page():
    names = {item.title for group in groups() for item in group.items}
    assert "Our rhythm" in names


def test_a_new_pair_costs_no_extra_query_once_the_dashboard_is_cached(
    db, django_assert_num_queries
):
    first, second = UserFactory(), UserFactory()
    make_couple(first, second)
    client = logged_in(first)
    client.get("/")
    # the viewer's one query: "start here" comes with the cached region
    with django_assert_num_queries(1):
        assert START_HERE in client.get("/").content.decode()
