"""Joins racing each other: exactly one wins, on the real database (PostgreSQL in CI)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from couples import services
from couples.models import Invitation, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(*attempts):
    """Run each (user, invitation) accept in its own thread, released together."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = [None] * len(attempts)

    def run(index, user, invitation):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = services.accept_invitation(user, invitation.pk)
        except services.PairingError as error:
            outcomes[index] = error.problem
        except Exception as error:  # anything else is a bug the test must show
            outcomes[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, user, invitation))
        for i, (user, invitation) in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def wins(outcomes):
    return [o for o in outcomes if not isinstance(o, (Invitation.Problem, Exception))]


@pytest.mark.parametrize("attempt", range(3))
def test_two_people_accepting_the_same_invitation_at_once(attempt):
    alice, bob, dana = UserFactory(), UserFactory(), UserFactory()
    couple = services.create_space(alice)
    invitation, _, _ = services.issue_invitation(couple, alice)
    outcomes = race((bob, invitation), (dana, invitation))
    assert len(wins(outcomes)) == 1, outcomes
    losers = [o for o in outcomes if o not in wins(outcomes)]
    assert losers[0] in (Invitation.Problem.USED, Invitation.Problem.FULL), outcomes
    assert couple.memberships.active().count() == 2


@pytest.mark.parametrize("attempt", range(3))
def test_two_people_accepting_different_invitations_to_one_space_at_once(attempt):
    alice, bob, dana = UserFactory(), UserFactory(), UserFactory()
    couple = services.create_space(alice)
    first, _, _ = Invitation.issue(couple, alice)
    second, _, _ = Invitation.issue(couple, alice)
    outcomes = race((bob, first), (dana, second))
    assert len(wins(outcomes)) == 1, outcomes
    assert couple.memberships.active().count() == 2
    assert Membership.objects.active().filter(user__in=[bob, dana]).count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_partners_accepting_each_others_invitations_at_once(attempt):
    alice, bob = UserFactory(), UserFactory()
    alices, _, _ = services.issue_invitation(services.create_space(alice), alice)
    bobs, _, _ = services.issue_invitation(services.create_space(bob), bob)
    outcomes = race((bob, alices), (alice, bobs))
    assert len(wins(outcomes)) == 1, outcomes
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    shared = {m.couple_id for m in Membership.objects.active().filter(user__in=[alice, bob])}
    assert len(shared) == 1
