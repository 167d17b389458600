"""How couples follow changes of an account (``accounts`` never imports ``couples``)."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from couples import services


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="couples.leave_on_delete")
def leave_before_the_account_goes(sender, instance, **kwargs) -> None:
    """An account deleted (from its settings page or the admin) leaves its space
    first, the way leaving does: the partner keeps the space, the pairing ends,
    live exercises end. Django's deletion runs this in its own transaction."""
    services.leave_couple(instance)
