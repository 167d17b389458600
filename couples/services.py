"""Workflows that span several models: starting a space, joining one, leaving."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from couples import once
from couples.models import Couple, Invitation, Membership
from couples.signals import member_left, space_archived

Problem = Invitation.Problem


class PairingError(Exception):
    def __init__(self, problem: Invitation.Problem) -> None:
        super().__init__(problem.label)
        self.problem = problem


def active_membership(user: User) -> Membership | None:
    return Membership.objects.active().select_related("couple").filter(user=user).first()


def active_members(user: User) -> list[Membership]:
    """Both seats of the user's space (with couple and users), in one query; [] if none."""
    mine = Membership.objects.active().filter(user=user).values("couple_id")
    return list(
        Membership.objects.active()
        .filter(couple__in=mine)
        .select_related("couple", "user")
        .order_by("seat")
    )


def create_space(user: User, name: str = "") -> Couple:
    """Give the user a solo space, or return the one they already have."""
    existing = active_membership(user)
    if existing is not None:
        return existing.couple
    try:
        with transaction.atomic():
            couple = Couple.objects.create(name=name, time_zone=user.time_zone)
            Membership.objects.create(couple=couple, user=user, seat=1)
    except IntegrityError:
        # A second request of the same user won the race: use its space.
        existing = active_membership(user)
        if existing is None:
            raise
        return existing.couple
    return couple


def _archive(couple: Couple, now) -> None:
    couple.archived_at = now
    couple.save(update_fields=["archived_at"])
    couple.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    space_archived.send(sender=Couple, couple_id=couple.pk, at=now)


def _end(membership: Membership, now) -> None:
    membership.left_at = now
    membership.save(update_fields=["left_at"])
    # Live exercises end with it (exercises.receivers): nobody keeps writing
    # into a session that a partner is no longer part of.
    member_left.send(
        sender=Membership, couple_id=membership.couple_id, user_id=membership.user_id, at=now
    )


def accept_invitation(user: User, invitation_id: int) -> Couple:
    """Put ``user`` into the invitation's space; return the space they are now in.

    1. Lock the inviting space and the joiner's own space in id order, so two
       people joining each other's spaces at once cannot deadlock, and two
       people joining the same space at once are served one after the other.
    2. Re-read the invitation under the lock and check it is still usable.
    3. The joiner leaves their own solo space (it is archived with its
       pending invitations); a joiner who already has a partner is refused.
    4. If a pairing in the space has ended (a partner left or deleted their
       account), a new partner and the one who stayed start in a fresh space,
       so nothing written in the old pairing appears in the new one. Only the
       partner who left, coming back, resumes the space they shared.
    5. Take the free seat. The partial unique indexes on seats and users reject
       a third member or a second space should any check above be bypassed.
    """
    try:
        with transaction.atomic():
            return _accept_locked(user, invitation_id)
    except IntegrityError:
        # Only a concurrent join can get here: report what the loser sees now.
        invitation = Invitation.objects.select_related("couple").get(pk=invitation_id)
        mine = active_membership(user)
        if mine is not None and mine.couple.memberships.active().count() == 2:
            raise PairingError(Problem.ALREADY_PAIRED) from None
        raise PairingError(invitation.state_problem() or Problem.FULL) from None


def problem_for(
    user: User,
    invitation: Invitation,
    mine: Membership | None,
    members: list[Membership],
) -> Invitation.Problem | None:
    """Why ``user`` cannot accept ``invitation`` now, or None if they can.

    ``mine`` is the user's active membership, ``members`` the active members
    of the inviting space.
    """
    if invitation.invited_by_id == user.pk:
        return Problem.OWN
    if mine is not None and (
        mine.couple_id == invitation.couple_id
        # Both invited each other and the other link was used first.
        or mine.couple.memberships.active().filter(user_id=invitation.invited_by_id).exists()
    ):
        return Problem.TOGETHER
    problem = invitation.state_problem()
    if problem is not None:
        return problem
    if len(members) >= 2:
        return Problem.FULL
    if mine is not None and mine.couple.memberships.active().count() >= 2:
        return Problem.ALREADY_PAIRED
    return None


def check_invitation(user: User, invitation: Invitation) -> Invitation.Problem | None:
    """The same checks as accepting, without locks, to explain a link before it is used."""
    members = list(invitation.couple.memberships.active())
    return problem_for(user, invitation, active_membership(user), members)


def _accept_locked(user: User, invitation_id: int) -> Couple:
    now = timezone.now()
    invitation = Invitation.objects.get(pk=invitation_id)
    mine = active_membership(user)
    couple_ids = sorted({invitation.couple_id} | ({mine.couple_id} if mine else set()))
    locked = {c.pk: c for c in Couple.objects.select_for_update().filter(pk__in=couple_ids)}
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    invitation.couple = locked[invitation.couple_id]
    mine = active_membership(user)  # re-read under the lock

    members = list(invitation.couple.memberships.active())
    problem = problem_for(user, invitation, mine, members)
    if problem is not None:
        raise PairingError(problem)
    if mine is not None:
        _end(mine, now)
        _archive(mine.couple, now)

    couple = invitation.couple
    # The partner who left coming back resumes the pairing they were part of.
    returning = couple.memberships.filter(user=user, left_at__isnull=False).exists()
    if couple.held_another_pairing and members and not returning:
        # Not even the name: it was given to the old pairing.
        fresh = Couple.objects.create(time_zone=couple.time_zone)
        for member in members:
            _end(member, now)
            Membership.objects.create(couple=fresh, user_id=member.user_id, seat=1)
        _archive(couple, now)
        couple, seat = fresh, 2
    else:
        if returning:
            Couple.objects.filter(pk=couple.pk).update(pairing_ended_at=None)
        taken = {m.seat for m in members}
        seat = 1 if 1 not in taken else 2
    Membership.objects.create(couple=couple, user=user, seat=seat)

    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    # A full space needs no other open invitation.
    couple.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    return couple


def leave_couple(user: User) -> None:
    """End the user's membership now. A partner who stays keeps the space.

    Account deletion comes through here too, before the user's rows go, so
    both ways of ending a pairing leave the same mark on the space
    (``pairing_ended_at``): whoever joins the one who stayed starts afresh.
    """
    with transaction.atomic():
        mine = active_membership(user)
        if mine is None:
            return
        Couple.objects.select_for_update().filter(pk=mine.couple_id).first()
        mine = Membership.objects.active().select_related("couple").get(pk=mine.pk)
        now = timezone.now()
        _end(mine, now)
        # The leaver's copy of the calendar address must stop showing the space:
        # a new address for whoever stays (they copy it again).
        Couple.objects.filter(pk=mine.couple_id).update(calendar_version=F("calendar_version") + 1)
        # Invitations the leaver made must not let anyone into a space they left.
        mine.couple.invitations.filter(
            invited_by=user, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        if mine.couple.memberships.active().exists():
            Couple.objects.filter(pk=mine.couple_id, pairing_ended_at__isnull=True).update(
                pairing_ended_at=now
            )
        else:
            _archive(mine.couple, now)


def issue_invitation(
    couple: Couple, invited_by: User, email: str = "", request_key: str = ""
) -> tuple[Invitation, str, str]:
    """Replace any open invitation of the space with a new one (one at a time).

    The same invite form posted again (``request_key``, see ``couples.once``)
    gets the invitation it made the first time: no second email, and the
    first link keeps working.
    """

    def issue() -> Invitation:
        couple.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation, _, _ = Invitation.issue(
            couple, invited_by, email=email, request_key=request_key
        )
        # In the savepoint: a lost race drops the owed email with the row.
        if email:
            owe_invitation_email(invitation)
        return invitation

    with transaction.atomic():
        invitation, _ = once.create_once(couple.invitations, request_key, issue)
    token, code = invitation.current_secrets()
    return invitation, token, code


def renew_invitation(invitation: Invitation, issued: str = "") -> tuple[str, str] | None:
    """New link and code for an open invitation; the old ones stop working.

    ``issued`` is when the page asking for this saw the invitation made: if it
    has been renewed since (a double click, a retried request), nothing more
    happens and the current link and code come back.
    """
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if issued and issued != invitation.issued_marker:
            return invitation.current_secrets()
        token, code = invitation.set_new_secrets()
        invitation.save(
            update_fields=["seed", "token_hash", "code_hash", "created_at", "expires_at"]
        )
        if invitation.email:
            owe_invitation_email(invitation)
    return token, code


def owe_invitation_email(invitation: Invitation) -> None:
    """Record that the invitation's email is owed, and queue it after commit.

    The row is the truth (``email_due_at``); the broker message is only a
    trigger. If the broker can't take it (Redis down), the page still
    succeeds and the next sweep queues the email once Redis is back. The
    broker gets the id and the token's hash, never the link or the code: the
    task rebuilds them from the invitation.
    """
    from couples.tasks import send_invitation_email

    Invitation.objects.filter(pk=invitation.pk).update(
        email_due_at=timezone.now(), email_attempts=0
    )
    invitation_id, token_hash = invitation.pk, invitation.token_hash
    transaction.on_commit(
        lambda: send_invitation_email.delay(invitation_id, token_hash), robust=True
    )
