from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from couples.models import Couple, Membership

PASSWORD = "a-long-and-kind-passphrase"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    time_zone = "Europe/Berlin"
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class CoupleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Couple

    time_zone = "Europe/Berlin"


def make_couple(*users: User, name: str = "") -> Couple:
    couple = CoupleFactory(name=name)
    for seat, user in enumerate(users, start=1):
        Membership.objects.create(couple=couple, user=user, seat=seat)
    return couple


def make_ritual(couple: Couple, now=None, **fields):
    """A ritual planned from ``now`` (default: the current time)."""
    from datetime import date, time

    from django.utils import timezone

    from rituals.models import Ritual

    values = {
        "title": "Evening walk",
        "rrule": "FREQ=DAILY",
        "start_date": date(2026, 1, 1),
        "start_time": time(19, 0),
        "time_zone": "Europe/Berlin",
        "duration_minutes": 20,
        "reminder_lead_minutes": 15,
        "prompt": "What was the best part of your day?",
        **fields,
    }
    ritual = Ritual(couple=couple, **values)
    ritual.plan_next_reminder(now or timezone.now())
    ritual.save()
    return ritual
