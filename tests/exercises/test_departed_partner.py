"""A partner who leaves or deletes their account mid-exercise: their live session
ends, and their sealed answers never open for the one who stayed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exercises import engine
from exercises.models import Entry, Session
from tests.conftest import logged_in
from tests.factories import PASSWORD, UserFactory, make_couple

FRANK_SEALED = "frank sealed went well"


@pytest.fixture
def eve(db):
    return UserFactory(email="eve@example.com", display_name="Eve")


@pytest.fixture
def frank(db):
    return UserFactory(email="frank@example.com", display_name="Frank")


@pytest.fixture
def checkin(eve, frank) -> Session:
    """A live weekly check-in in which Frank has sealed his answer to the first prompt."""
    couple = make_couple(eve, frank)
    session = engine.start(couple, eve, 1, "weekly_checkin", "two_devices", {})
    while engine.current_step(session).kind != "write":
        session = engine.act(session.pk, couple.pk, 1, "next", {})
    return engine.act(session.pk, couple.pk, 2, "submit", {"text": FRANK_SEALED})


def act(user, session: Session, **data):
    return logged_in(user).post(reverse("exercise_act", args=[session.pk]), data)


def leave(user) -> None:
    assert logged_in(user).post(reverse("leave"), {"confirm": "on"}).status_code == 302


def delete(user) -> None:
    response = logged_in(user).post(reverse("delete_account"), {"password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("go", [leave, delete], ids=["leave", "delete"])
def test_the_live_session_ends_when_a_partner_goes(checkin, eve, frank, go):
    poll = reverse("exercise_poll", args=[checkin.pk]) + f"?v={checkin.version}"
    assert logged_in(eve).get(poll).status_code == 204
    go(frank)
    checkin.refresh_from_db()
    assert checkin.status == Session.Status.ENDED
    # Eve's open page learns it at the next poll, and can post no more into it.
    assert logged_in(eve).get(poll).status_code == 200
    response = act(eve, checkin, action="submit", text="eve went well")
    assert response.status_code == 409
    assert not Entry.objects.filter(session=checkin, author=eve).exists()


def test_a_sealed_answer_she_had_matched_closes_when_he_leaves(checkin, eve, frank):
    """Both answered while both were there: it opened. He leaves: it is his again."""
    assert act(eve, checkin, action="submit", text="eve went well").status_code == 302
    summary = reverse("exercise_summary", args=[checkin.pk])
    assert FRANK_SEALED in logged_in(eve).get(summary).content.decode()
    leave(frank)
    assert FRANK_SEALED not in logged_in(eve).get(summary).content.decode()
    assert "eve went well" in logged_in(eve).get(summary).content.decode()


def test_his_sealed_answer_never_opens_for_what_she_writes_after(checkin, eve, frank):
    """Even written straight into the database, her answer opens nothing of a departed partner."""
    leave(frank)
    Entry.objects.create(
        couple=checkin.couple,
        session=checkin,
        author=eve,
        prompt_key=Entry.objects.get(author=frank).prompt_key,
        text="eve went well",
        visibility="sealed",
    )
    page = logged_in(eve).get(reverse("exercise_summary", args=[checkin.pk])).content.decode()
    assert "eve went well" in page
    assert FRANK_SEALED not in page
