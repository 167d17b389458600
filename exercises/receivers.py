"""How exercises follow changes of a couple (``couples.signals``)."""

from __future__ import annotations

from django.db.models import F
from django.dispatch import receiver

from config import regions
from couples.signals import member_left
from exercises.models import Session


@receiver(member_left, dispatch_uid="exercises.end_live_sessions")
def end_live_sessions(sender, couple_id: int, user_id: int, at, **kwargs) -> None:
    """A live session is for the two who started it: when one leaves, it ends.

    The remaining partner can no longer post into it, and its version moves
    on, so the open page of whoever stays shows that it ended.
    """
    ended = Session.objects.filter(couple_id=couple_id, status=Session.Status.ACTIVE).update(
        status=Session.Status.ENDED,
        finished_at=at,
        updated_at=at,
        timer_running=False,
        version=F("version") + 1,
    )
    if ended:  # the dashboard shows the live session (config.regions)
        regions.changed(couple_id, regions.AGENDA)
