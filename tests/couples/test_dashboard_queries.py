"""The dashboard's cost in queries is fixed."""

from __future__ import annotations

from couples import services
from couples.models import Invitation
from tests.factories import UserFactory

# the viewer (user, both seats, the space: one query), then (for the cached
# regions, on a miss) active rituals, exercise sessions, and the viewer's
# newest answer to a daily question (today's question card and the first
# week's "start here"); the login session itself comes from the cache
PAIRED_QUERIES = 4
# once the regions are cached: the viewer
PAIRED_CACHED_QUERIES = 1
# ... plus the open invitation (no partner, so no "start here"; today's
# question card still reads the newest answer)
SOLO_QUERIES = 5


def test_the_paired_dashboard_costs_a_fixed_number_of_queries(
    couple, alice_client, django_assert_num_queries
):
    with django_assert_num_queries(PAIRED_QUERIES):
        response = alice_client.get("/")
    assert response.status_code == 200
    with django_assert_num_queries(PAIRED_CACHED_QUERIES):
        again = alice_client.get("/")
    assert again.status_code == 200


def test_the_solo_dashboard_costs_a_fixed_number_of_queries(
    alice, alice_client, django_assert_num_queries
):
    couple = services.create_space(alice)
    services.issue_invitation(couple, alice, email="bob@example.com")
    with django_assert_num_queries(SOLO_QUERIES):
        response = alice_client.get("/")
    assert b"bob@example.com" in response.content


def test_past_invitations_and_partners_do_not_add_queries(
    alice, alice_client, django_assert_num_queries
):
    couple = services.create_space(alice)
    for _ in range(30):
        invitation, _, _ = Invitation.issue(couple, alice)
        invitation.revoke()
    first = UserFactory()
    invitation, _, _ = services.issue_invitation(couple, alice)
    services.accept_invitation(first, invitation.pk)
    services.leave_couple(first)
    services.issue_invitation(couple, alice)
    with django_assert_num_queries(SOLO_QUERIES):
        alice_client.get("/")
