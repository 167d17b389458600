"""How exercises follow changes of a couple (``couples.signals``) and of accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import F
from django.db.models.signals import post_save
from django.dispatch import receiver

from config import regions
from couples.models import Membership
from couples.signals import member_left
from exercises import hub
from exercises.models import Session


@receiver(member_left, dispatch_uid="exercises.end_live_sessions")
def end_live_sessions(sender, couple_id: int, user_id: int, at, **kwargs) -> None:
    """A live session is for the two who started it: when one leaves, it ends.

    The remaining partner can no longer post into it, and its version moves
    on, so the open page of whoever stays shows that it ended; the leaver's
    open streams end at once.
    """
    ended = Session.objects.filter(couple_id=couple_id, status=Session.Status.ACTIVE).update(
        status=Session.Status.ENDED,
        finished_at=at,
        updated_at=at,
        timer_running=False,
        version=F("version") + 1,
    )
    if ended:  # the dashboard shows the live session (config.regions)
        regions.changed(couple_id, regions.AGENDA, regions.JOURNAL)
    hub.announce(couple_id)


def _announce_for(user_id: int) -> None:
    couple_id = (
        Membership.objects.filter(user_id=user_id, left_at__isnull=True)
        .values_list("couple_id", flat=True)
        .first()
    )
    if couple_id is not None:
        hub.announce(couple_id)


@receiver(post_save, sender=get_user_model(), dispatch_uid="exercises.password_ends_streams")
def password_changed(sender, instance, **kwargs) -> None:
    """A new password ends the user's other sessions, and so their open streams, at once.

    ``set_password`` keeps the raw password on the instance until the save
    that stores it has run (Django uses it for the password validators' hook):
    that is the one save that changed it.
    """
    if getattr(instance, "_password", None) is not None:
        _announce_for(instance.pk)
