"""How rituals follow changes of a couple (``couples.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from couples.signals import space_archived
from rituals.models import Ritual


@receiver(space_archived, dispatch_uid="rituals.stop_reminders_of_closed_space")
def stop_reminders(sender, couple_id: int, at, **kwargs) -> None:
    """A closed space has nobody to nudge: its rituals leave the reminder tick."""
    Ritual.objects.filter(couple_id=couple_id).update(
        is_active=False, next_occurrence_at=None, next_reminder_at=None
    )
