"""An authorization sweep generated from the URL configuration.

Every route of our apps is requested with every HTTP method by a visitor, by
an outsider (charlie, who has a space of his own) and by the partner (bob).
A route missing from ``MATRIX`` fails here, so no new URL escapes the sweep.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from couples import services
from rituals.models import Ritual
from tests.conftest import logged_in
from tests.security.conftest import SECRETS, assert_unchanged, differences, snapshot
from tests.test_access_matrix import LOGIN, MATRIX, Route, our_route_names, url_for

# POST last: it is the one method that may change something.
METHODS = ["get", "head", "put", "patch", "delete", "options", "post"]
# No view of ours takes these: they must be refused, never served.
UNUSED = {"put", "patch", "delete", "options"}
ROUTES = sorted(our_route_names())
# In this sweep the invitation belongs to a space that is already full.
OUTSIDER_OVERRIDES = {"invitation": 409}
# A download is one person's: her partner is as much a stranger to it as anyone.
PARTNER_OVERRIDES = {"export_download": 404}


def send(client, method: str, url: str):
    return getattr(client, method)(url)


def route_of(name: str) -> Route:
    assert name in MATRIX, f"{name} is a new route: add it to MATRIX in tests/test_access_matrix.py"
    return MATRIX[name]


def carries_credential(route: Route) -> bool:
    """Signed links and invitation links: holding the address is the permission."""
    return bool(route.signed) or route.uses_token


def owns_object(route: Route) -> bool:
    return route.uses_ritual or route.uses_session or route.uses_invitation or route.uses_export


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("account_login"))


def assert_status(response, expected: int | str, context: str) -> None:
    if expected == LOGIN:
        assert is_login_redirect(response), f"{context}: {response.status_code}"
    else:
        assert response.status_code == expected, f"{context}: {response.status_code}"


# Random values in every page (CSRF tokens, CSP nonces) may spell "Bob" by chance.
RANDOM_VALUES = re.compile(
    r'name="csrfmiddlewaretoken" value="[^"]*"|nonce="[^"]*"|"X-CSRFToken": "[^"]*"'
)


def assert_no_secrets(response, context: str) -> None:
    body = RANDOM_VALUES.sub("", response.content.decode(errors="replace"))
    leaked = [secret for secret in SECRETS if re.search(rf"\b{re.escape(secret)}\b", body)]
    assert not leaked, f"{context} shows the couple's {leaked}"


def assert_method_answer(response, method: str, route: Route, expected, context: str) -> None:
    assert response.status_code < 500, context
    if method == route.method:
        assert_status(response, expected, context)
    elif method in UNUSED:
        assert response.status_code == 405, f"{context}: {response.status_code}, not 405"
    elif method == "head" and route.method == "get":
        assert response.status_code in (405, expected if isinstance(expected, int) else 302)


def test_every_route_of_our_apps_is_swept():
    missing = set(ROUTES) - set(MATRIX)
    assert not missing, f"routes without a row in MATRIX: {sorted(missing)}"
    assert len(ROUTES) >= 40


def test_the_snapshot_sees_the_couples_rows_but_not_the_outsiders_own(charlie, pair_space):
    """The guard of the outsider test: it must notice a change, and only the right ones."""
    before = snapshot(charlie)
    services.issue_invitation(services.active_membership(charlie).couple, charlie)
    Ritual.objects.create(
        couple=services.active_membership(charlie).couple,
        title="his own",
        rrule="FREQ=DAILY",
        start_date="2026-01-01",
        start_time="08:00",
        time_zone="UTC",
    )
    assert differences(before, snapshot(charlie)) == []
    Ritual.objects.filter(pk=pair_space["ritual"].pk).update(title="changed")
    pair_space["ritual"].muted_by.add(charlie)
    changed = differences(before, snapshot(charlie))
    assert len(changed) == 2, changed


@pytest.mark.parametrize("name", ROUTES)
def test_a_visitor_gets_a_login_redirect_or_nothing(client, pair_space, name):
    route = route_of(name)
    url = url_for(name, route, pair_space)
    for method in METHODS:
        response = send(client, method, url)
        context = f"anonymous {method.upper()} {name}"
        assert response.status_code < 500, context
        if route.anonymous == LOGIN:
            # The log-in check comes first, whatever the method.
            assert is_login_redirect(response) or response.status_code in (404, 405), context
        elif route.anonymous == 404:
            assert response.status_code in (404, 405), context
        else:
            assert_method_answer(response, method, route, route.anonymous, context)
        if not carries_credential(route):
            assert_no_secrets(response, context)


@pytest.mark.parametrize("name", ROUTES)
def test_an_outsider_gets_404_and_changes_nothing(charlie, pair_space, name):
    route = route_of(name)
    url = url_for(name, route, pair_space)
    client = logged_in(charlie)
    before = snapshot(charlie)
    expected = OUTSIDER_OVERRIDES.get(name, route.outsider)
    for method in METHODS:
        if method == "post" and route.signed:
            # The signed link names alice: posting it acts for her, by design.
            # Everything before the POST must still have changed nothing.
            assert_unchanged(before, snapshot(charlie), f"outsider before POST {name}")
        response = send(client, method, url)
        context = f"outsider {method.upper()} {name}"
        assert response.status_code < 500, context
        if owns_object(route):
            assert response.status_code in (404, 405), f"{context}: {response.status_code}"
        else:
            assert_method_answer(response, method, route, expected, context)
        if not carries_credential(route):
            assert_no_secrets(response, context)
    if not route.signed:
        assert_unchanged(before, snapshot(charlie), f"outsider on {name}")


@pytest.mark.parametrize("name", ROUTES)
def test_the_partner_is_answered_for_every_method(bob, pair_space, name):
    route = route_of(name)
    url = url_for(name, route, pair_space)
    client = logged_in(bob)
    for method in METHODS:
        response = send(client, method, url)
        expected = PARTNER_OVERRIDES.get(name, route.member)
        assert_method_answer(response, method, route, expected, f"partner {method} {name}")


@pytest.mark.parametrize("method", METHODS)
def test_the_health_endpoint_takes_get_only(client, db, method):
    response = send(client, method, "/healthz")
    assert response.status_code == (200 if method == "get" else 405)
