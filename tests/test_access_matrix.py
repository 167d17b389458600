"""Every page of the app, requested by a visitor, by an outsider and by a member.

The table must name every route of our apps: a new URL without a row fails
``test_every_route_is_in_the_matrix``, so no view escapes an outsider test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from couples import services
from couples.models import Invitation
from tests.conftest import logged_in

LOGIN = "login"  # expected: redirect to the login page


@dataclass(frozen=True)
class Route:
    method: str
    anonymous: int | str
    outsider: int
    member: int
    uses_invitation: bool = False
    uses_token: bool = False


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
    "delete_account": Route("get", LOGIN, 200, 200),
}

OUR_APPS = {"couples", "accounts"}


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
    return {"invitation": invitation, "token": token}


def url_for(name: str, route: Route, space) -> str:
    if route.uses_invitation:
        return reverse(name, args=[space["invitation"].pk])
    if route.uses_token:
        return reverse(name, args=[space["token"]])
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
    for name in ("dashboard", "leave", "profile", "join"):
        page = client.get(reverse(name)).content
        assert b"Alice" not in page and b"Bob" not in page
