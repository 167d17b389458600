"""The pairing service: every way an invitation can be refused, and the happy paths."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from couples import services
from couples.models import Couple, Invitation, Membership
from tests.factories import UserFactory, make_couple

Problem = Invitation.Problem


def active_couple_of(user) -> Couple | None:
    membership = services.active_membership(user)
    return membership.couple if membership else None


@pytest.fixture
def solo_alice(alice):
    services.create_space(alice, name="Ours")
    return alice


def invite(user, email: str = "") -> tuple[Invitation, str, str]:
    return services.issue_invitation(active_couple_of(user), user, email=email)


def accept(user, invitation: Invitation) -> Couple:
    return services.accept_invitation(user, invitation.pk)


def assert_refused(user, invitation: Invitation, problem: Invitation.Problem) -> None:
    with pytest.raises(services.PairingError) as caught:
        accept(user, invitation)
    assert caught.value.problem == problem


def test_it_puts_the_partner_in_the_inviters_space(solo_alice, bob):
    invitation, _, _ = invite(solo_alice)
    couple = accept(bob, invitation)
    assert couple == active_couple_of(solo_alice) == active_couple_of(bob)
    assert sorted(couple.memberships.active().values_list("seat", flat=True)) == [1, 2]
    invitation.refresh_from_db()
    assert invitation.accepted_by == bob
    assert invitation.accepted_at is not None


def test_it_finds_invitations_by_link_and_by_code_in_any_spelling(solo_alice):
    invitation, token, code = invite(solo_alice)
    assert Invitation.find_by_token(token) == invitation
    spoken = f" {code[:4].lower()} - {code[4:].lower()} "
    assert Invitation.find_by_code(spoken) == invitation
    assert Invitation.find_by_token(token + "x") is None
    assert Invitation.find_by_code("2222-2222") is None


def test_it_stores_only_hashes_of_the_secrets(solo_alice):
    invitation, token, code = invite(solo_alice)
    stored = Invitation.objects.filter(pk=invitation.pk).values().get()
    assert token not in str(stored.values())
    assert code not in str(stored.values())


def test_an_invitation_expires_after_seven_days(solo_alice, bob):
    invitation, _, _ = invite(solo_alice)
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        assert_refused(bob, invitation, Problem.EXPIRED)
    assert active_couple_of(bob) is None


def test_an_invitation_still_works_just_before_it_expires(solo_alice, bob):
    invitation, _, _ = invite(solo_alice)
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        accept(bob, invitation)
    assert active_couple_of(bob) == active_couple_of(solo_alice)


def test_an_invitation_works_once(solo_alice, bob, charlie):
    invitation, _, _ = invite(solo_alice)
    accept(bob, invitation)
    services.leave_couple(bob)
    assert_refused(charlie, invitation, Problem.USED)


def test_a_revoked_invitation_is_refused(solo_alice, bob):
    invitation, _, _ = invite(solo_alice)
    invitation.revoke()
    assert_refused(bob, invitation, Problem.REVOKED)


def test_a_new_invitation_replaces_the_open_one(solo_alice, bob):
    first, _, _ = invite(solo_alice)
    second, _, _ = invite(solo_alice)
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert_refused(bob, first, Problem.REVOKED)
    accept(bob, second)


def test_renewing_gives_new_secrets_and_the_old_ones_stop_working(solo_alice, bob):
    invitation, old_token, old_code = invite(solo_alice)
    new_token, new_code = services.renew_invitation(invitation)
    assert Invitation.find_by_token(old_token) is None
    assert Invitation.find_by_code(old_code) is None
    assert Invitation.find_by_token(new_token) == invitation
    assert Invitation.find_by_code(new_code) == invitation


def test_you_cannot_accept_your_own_invitation(solo_alice):
    invitation, _, _ = invite(solo_alice)
    assert_refused(solo_alice, invitation, Problem.OWN)


def test_someone_already_paired_cannot_join_another_space(couple):
    inviter = UserFactory(display_name="Dana")
    services.create_space(inviter)
    invitation, _, _ = invite(inviter)
    bob = couple.memberships.get(seat=2).user
    assert_refused(bob, invitation, Problem.ALREADY_PAIRED)
    assert active_couple_of(bob) == couple


def test_a_full_space_refuses_a_third_person(solo_alice, bob, charlie):
    invitation, _, _ = invite(solo_alice)
    # A second open invitation made directly, as if created just before the first was used.
    stale, _, _ = Invitation.issue(active_couple_of(solo_alice), solo_alice)
    accept(bob, invitation)
    stale.refresh_from_db()
    stale.revoked_at = None
    stale.save()
    assert_refused(charlie, stale, Problem.FULL)


def test_joining_leaves_and_archives_your_solo_space(solo_alice, bob):
    bobs_space = services.create_space(bob)
    bobs_invitation, _, _ = invite(bob, email="alice@example.com")
    invitation, _, _ = invite(solo_alice)
    accept(bob, invitation)
    bobs_space.refresh_from_db()
    assert bobs_space.archived_at is not None
    bobs_invitation.refresh_from_db()
    assert bobs_invitation.revoked_at is not None
    assert active_couple_of(bob) == active_couple_of(solo_alice)


def test_when_both_invited_each_other_the_second_link_says_you_are_together(solo_alice, bob):
    services.create_space(bob)
    to_bob, _, _ = invite(solo_alice, email="bob@example.com")
    to_alice, _, _ = invite(bob, email="alice@example.com")
    accept(bob, to_bob)
    assert_refused(solo_alice, to_alice, Problem.TOGETHER)


def test_a_space_whose_member_left_does_not_open_by_old_invitations(solo_alice, bob):
    invitation, _, _ = invite(solo_alice)
    services.leave_couple(solo_alice)
    assert_refused(bob, invitation, Problem.REVOKED)


def test_the_database_refuses_a_third_active_member(couple, charlie):
    services.leave_couple(charlie)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(couple=couple, user=charlie, seat=1)


def test_the_database_refuses_a_second_active_space_per_user(couple):
    alice = couple.memberships.get(seat=1).user
    other = Couple.objects.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(couple=other, user=alice, seat=1)


def test_creating_a_space_twice_returns_the_same_space(alice):
    assert services.create_space(alice) == services.create_space(alice)
    assert Membership.objects.filter(user=alice).count() == 1


def test_a_new_partner_after_a_leaver_starts_a_fresh_space(solo_alice, bob, charlie):
    first, _, _ = invite(solo_alice)
    old_space = accept(bob, first)
    services.leave_couple(bob)
    assert active_couple_of(solo_alice) == old_space  # alice keeps the space

    services.leave_couple(charlie)
    second, _, _ = invite(solo_alice)
    new_space = accept(charlie, second)
    assert new_space != old_space
    assert active_couple_of(solo_alice) == new_space
    old_space.refresh_from_db()
    assert old_space.archived_at is not None
    assert not old_space.memberships.active().exists()


def test_the_same_partner_can_come_back_to_the_space(solo_alice, bob):
    first, _, _ = invite(solo_alice)
    space = accept(bob, first)
    services.leave_couple(bob)
    second, _, _ = invite(solo_alice)
    assert accept(bob, second) == space


def test_leaving_keeps_the_space_for_the_partner_and_ends_access(couple):
    alice, bob = (m.user for m in couple.memberships.order_by("seat"))
    services.leave_couple(bob)
    assert active_couple_of(bob) is None
    assert active_couple_of(alice) == couple
    couple.refresh_from_db()
    assert couple.archived_at is None


def test_the_last_member_leaving_archives_the_space(solo_alice):
    space = active_couple_of(solo_alice)
    invitation, _, _ = invite(solo_alice)
    services.leave_couple(solo_alice)
    space.refresh_from_db()
    invitation.refresh_from_db()
    assert space.archived_at is not None
    assert invitation.revoked_at is not None


def test_leaving_without_a_space_does_nothing(alice):
    services.leave_couple(alice)
    assert active_couple_of(alice) is None


def test_make_couple_helper_builds_two_seats(alice, bob):
    couple = make_couple(alice, bob)
    assert couple.memberships.active().count() == 2


def test_the_migration_marks_spaces_whose_pairing_already_ended(alice, bob, charlie):
    """Spaces from before ``pairing_ended_at``: a left membership, or an invitation
    whose sender or joiner was deleted, tells that a pairing ended there."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("couples.migrations.0003_couple_pairing_ended_at")
    left = services.create_space(alice)
    invitation, _, _ = services.issue_invitation(left, alice)
    services.accept_invitation(bob, invitation.pk)
    Membership.objects.filter(user=bob).update(left_at=timezone.now())
    deleted_joiner = services.create_space(UserFactory())
    gone = UserFactory()
    sent, _, _ = Invitation.issue(deleted_joiner, deleted_joiner.memberships.get().user)
    Invitation.objects.filter(pk=sent.pk).update(accepted_at=timezone.now(), accepted_by=gone)
    gone.delete()
    untouched = Membership.objects.get(user=charlie).couple
    Couple.objects.update(pairing_ended_at=None)

    migration.mark_ended_pairings(apps, None)

    ended = set(Couple.objects.filter(pairing_ended_at__isnull=False).values_list("pk", flat=True))
    assert ended == {left.pk, deleted_joiner.pk}
    assert untouched.pk not in ended
