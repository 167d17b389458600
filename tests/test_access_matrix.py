"""Every page of the app, requested by a visitor, by an outsider and by a member.

The table must name every route of our apps: a new URL without a row fails
``test_every_route_is_in_the_matrix``, so no view escapes an outsider test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from couples import services
from couples.models import Invitation
from exercises import engine
from exercises.models import Entry, Session
from rituals import calendar, links
from rituals.models import ReminderDelivery, Ritual
from tests.conftest import logged_in
from tests.exports import prepared_export
from tests.factories import make_ritual

LOGIN = "login"  # expected: redirect to the login page


@dataclass(frozen=True)
class Route:
    method: str
    anonymous: int | str
    outsider: int
    member: int
    uses_invitation: bool = False
    uses_token: bool = False
    uses_ritual: bool = False
    uses_session: bool = False
    uses_export: bool = False  # the member's own prepared export
    signed: str = ""  # which signed link of the space the route takes


MATRIX: dict[str, Route] = {
    "dashboard": Route("get", 200, 200, 200),
    "create_space": Route("post", LOGIN, 302, 302),
    "invite": Route("post", LOGIN, 302, 302),
    "renew_invitation": Route("post", LOGIN, 404, 302, uses_invitation=True),
    "revoke_invitation": Route("post", LOGIN, 404, 302, uses_invitation=True),
    "leave": Route("get", LOGIN, 200, 200),
    "join": Route("get", LOGIN, 200, 200),
    # A link is public by design: anyone holding it may see who invites them.
    # The member is its author, who is told it is their own.
    "invitation": Route("get", 200, 200, 409, uses_token=True),
    "profile": Route("get", LOGIN, 200, 200),
    "export": Route("get", LOGIN, 200, 200),
    # Everyone may ask for their own; the member's download is theirs alone.
    "export_prepare": Route("post", LOGIN, 302, 302),
    "export_download": Route("get", LOGIN, 404, 200, uses_export=True),
    "delete_account": Route("get", LOGIN, 200, 200),
    "rituals": Route("get", LOGIN, 200, 200),
    "ritual_new": Route("get", LOGIN, 200, 200),
    "ritual_preview": Route("get", LOGIN, 200, 200),
    "ritual_week": Route("get", LOGIN, 200, 200),
    "ritual_add_template": Route("post", LOGIN, 302, 302),
    "ritual_detail": Route("get", LOGIN, 404, 200, uses_ritual=True),
    "ritual_edit": Route("get", LOGIN, 404, 200, uses_ritual=True),
    "ritual_pause": Route("post", LOGIN, 404, 302, uses_ritual=True),
    "ritual_nudges": Route("post", LOGIN, 404, 302, uses_ritual=True),
    "ritual_delete": Route("get", LOGIN, 404, 200, uses_ritual=True),
    # No occurrence posted: the member is told so, the outsider never gets that far.
    "ritual_keep": Route("post", LOGIN, 404, 422, uses_ritual=True),
    "ritual_unkeep": Route("post", LOGIN, 404, 422, uses_ritual=True),
    "calendar_settings": Route("get", LOGIN, 200, 200),
    "calendar_regenerate": Route("post", LOGIN, 302, 302),
    # Signed links work without logging in: the signature is the credential,
    # and it names one couple or one person.
    "calendar_feed": Route("get", 200, 200, 200, signed="feed"),
    "ritual_done_link": Route("get", 200, 200, 200, signed="done"),
    "ritual_mute_link": Route("get", 200, 200, 200, signed="mute"),
    "unsubscribe": Route("get", 200, 200, 200, signed="unsubscribe"),
    "exercises": Route("get", LOGIN, 200, 200),
    # Nothing chosen: the form comes back with its errors (each for their own space).
    "exercise_start": Route("post", LOGIN, 422, 422),
    "exercise_session": Route("get", LOGIN, 404, 200, uses_session=True),
    # No action posted: the member is told it can't be done, the outsider gets nothing.
    "exercise_act": Route("post", LOGIN, 404, 409, uses_session=True),
    # Polls answer htmx, not people: no redirect to a log-in page, just 404.
    "exercise_poll": Route("get", 404, 404, 200, uses_session=True),
    # Streams too; under the test client (WSGI) a member gets 204, "poll instead"
    # (tests/exercises/test_stream.py streams them from uvicorn).
    "exercise_stream": Route("get", 404, 404, 204, uses_session=True),
    "exercise_summary": Route("get", LOGIN, 404, 200, uses_session=True),
    "exercise_history": Route("get", LOGIN, 200, 200),
    "exercise_waiting": Route("get", 404, 200, 200),
    "exercise_waiting_stream": Route("get", 404, 204, 204),
    "daily_question": Route("get", LOGIN, 200, 200),
    "love_map": Route("get", LOGIN, 200, 200),
    "weekly_checkins": Route("get", LOGIN, 200, 200),
    "appreciation": Route("get", LOGIN, 200, 200),
    "love_quiz": Route("get", LOGIN, 200, 200),
    "self_check": Route("get", LOGIN, 200, 200),
    # Where to find help is open to anyone, logged in or not.
    "get_help": Route("get", 200, 200, 200),
    "our_story": Route("get", LOGIN, 200, 200),
    "rhythm": Route("get", LOGIN, 200, 200),
}

OUR_APPS = {"couples", "accounts", "rituals", "exercises", "home"}


def our_route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, in_ours: bool) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                module = getattr(entry.urlconf_module, "__name__", "")
                walk(entry.url_patterns, module.split(".")[0] in OUR_APPS)
            elif isinstance(entry, URLPattern) and in_ours and entry.name:
                names.add(entry.name)

    walk(get_resolver().url_patterns, False)
    return names


def test_every_route_is_in_the_matrix():
    assert our_route_names() == set(MATRIX)


@pytest.fixture
def space(alice):
    couple = services.create_space(alice)
    invitation, token, _ = services.issue_invitation(couple, alice)
    ritual = make_ritual(couple)
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=alice
    )
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    Entry.objects.create(
        couple=couple, session=session, author=alice, prompt_key="eye_gazing:reflect", text="x"
    )
    return {
        "export": prepared_export(alice),
        "session": session,
        "invitation": invitation,
        "token": token,
        "ritual": ritual,
        "signed": {
            "feed": calendar.feed_token(couple),
            "done": links.done_token(delivery.pk),
            "mute": links.mute_token(ritual.pk, alice.pk),
            "unsubscribe": links.unsubscribe_token(alice.pk),
        },
    }


def url_for(name: str, route: Route, space) -> str:
    if route.uses_invitation:
        return reverse(name, args=[space["invitation"].pk])
    if route.uses_token:
        return reverse(name, args=[space["token"]])
    if route.uses_ritual:
        return reverse(name, args=[space["ritual"].pk])
    if route.uses_session:
        return reverse(name, args=[space["session"].pk])
    if route.uses_export:
        return reverse(name, args=[space["export"].token])
    if name == "exercise_start":
        return reverse(name, args=["eye_gazing"])
    if route.signed:
        return reverse(name, args=[space["signed"][route.signed]])
    if name == "ritual_add_template":
        return reverse(name, args=["daily-check-in"])
    return reverse(name)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_a_visitor_is_sent_to_log_in(client, space, name):
    route = MATRIX[name]
    response = getattr(client, route.method)(url_for(name, route, space))
    if route.anonymous == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    else:
        assert response.status_code == route.anonymous


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_an_outsider_gets_404_for_couple_data(charlie, space, name):
    route = MATRIX[name]
    response = getattr(logged_in(charlie), route.method)(url_for(name, route, space))
    assert response.status_code == route.outsider
    # and changes nothing of the space they don't belong to
    invitation = Invitation.objects.get(pk=space["invitation"].pk)
    assert invitation.revoked_at is None
    assert invitation.token_hash == space["invitation"].token_hash
    ritual = Ritual.objects.get(pk=space["ritual"].pk)
    assert ritual.is_active and not ritual.muted_by.exists()
    assert ritual.couple.rituals.count() == 1
    session = Session.objects.get(pk=space["session"].pk)
    assert (session.status, session.version) == ("active", space["session"].version)
    assert ritual.couple.sessions.count() == 1


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_the_member_reaches_every_page(alice, space, name):
    route = MATRIX[name]
    response = getattr(logged_in(alice), route.method)(url_for(name, route, space))
    assert response.status_code == route.member


@pytest.mark.parametrize("name", ["dashboard", "leave", "profile", "export"])
def test_the_partner_reaches_the_shared_pages(couple, bob, name):
    route = MATRIX[name]
    response = getattr(logged_in(bob), route.method)(reverse(name))
    assert response.status_code == 200


def test_an_outsider_never_sees_the_couple_on_his_pages(couple, charlie):
    client = logged_in(charlie)
    make_ritual(couple, title="Alice and Bob's walk")
    for name in ("dashboard", "leave", "profile", "join", "rituals", "ritual_week"):
        page = client.get(reverse(name)).content.decode()
        # Random tokens and nonces could spell a name by chance: leave them out.
        page = re.sub(r"[A-Za-z0-9_-]{20,}", "", page)
        assert not re.search(r"\b(Alice|Bob)\b", page), name
