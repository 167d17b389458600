"""An account deleted anywhere (its settings page, the admin, a shell) leaves its space first."""

from __future__ import annotations

from couples.models import Couple, Membership
from exercises import engine
from exercises.models import Session


def test_deleting_a_user_ends_the_pairing_as_leaving_does(couple, alice, bob):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    assert Membership.objects.active().filter(couple=couple).count() == 2
    bob.delete()
    couple = Couple.objects.get(pk=couple.pk)
    assert [m.user for m in Membership.objects.active().filter(couple=couple)] == [alice]
    assert couple.pairing_ended_at is not None  # whoever joins alice starts afresh
    assert Session.objects.get(pk=session.pk).status == Session.Status.ENDED
