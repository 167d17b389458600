"""Create the demo couple used by ``scripts/dev.sh``: Sam and Alex, sharing one space.

Running it again leaves a correct demo alone and repairs one that was changed
(a new password, a partner who left). It refuses to run with DEBUG off, so it
cannot plant known passwords on a real site by accident.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from couples import services
from couples.models import Couple, Membership

DEMO_PASSWORD = "tend-together"  # noqa: S105 (documented in the README on purpose)
DEMO_SPACE_NAME = "Sam & Alex"
DEMO_PEOPLE = [
    # (email, display name, time zone); the first one opens the space.
    ("sam@demo.tend", "Sam", "Europe/Berlin"),
    ("alex@demo.tend", "Alex", "Europe/Lisbon"),
]


class Command(BaseCommand):
    help = "Create (or repair) the demo couple Sam and Alex. Development only."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off (never do this on a real site).",
        )

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "load_demo creates accounts with a published password, so it only runs "
                "with DEBUG=true. Pass --force if you really mean it."
            )
        with transaction.atomic():
            sam, alex = (demo_user(*person) for person in DEMO_PEOPLE)
            couple, created = shared_space(sam, alex)
            demo_rituals(couple, sam, alex)

        state = "created" if created else "already in place"
        self.stdout.write(f'Demo space "{couple}" {state}. Log in as either partner:')
        for email, name, zone in DEMO_PEOPLE:
            self.stdout.write(f"  {email:<16} ({name}, {zone})")
        self.stdout.write(f"  password: {DEMO_PASSWORD}")


def demo_user(email: str, display_name: str, time_zone: str) -> User:
    """The demo account with a verified primary address and the demo password."""
    user = User.objects.filter(email__iexact=email).first() or User(email=email)
    user.display_name = display_name
    user.time_zone = time_zone
    user.is_active = True
    user.set_password(DEMO_PASSWORD)
    user.save()
    address, _ = EmailAddress.objects.get_or_create(user=user, email=email)
    address.verified = True
    address.primary = True
    address.save()
    return user


def shared_space(first: User, second: User) -> tuple[Couple, bool]:
    """Return the space both share; if they don't, start a fresh one for them.

    A fresh space (rather than re-seating someone in an old one) keeps the rule
    that nothing from a past pairing shows up in a new one.
    """
    mine = services.active_membership(first)
    theirs = services.active_membership(second)
    if mine is not None and theirs is not None and mine.couple_id == theirs.couple_id:
        return mine.couple, False
    for user in (first, second):
        services.leave_couple(user)
    couple = services.create_space(first, name=DEMO_SPACE_NAME)
    Membership.objects.create(couple=couple, user=second, seat=2)
    return couple, True


DEMO_RITUALS = ["daily-check-in", "after-dinner-walk", "weekly-check-in"]


def demo_rituals(couple: Couple, sam: User, alex: User) -> None:
    """A few rituals from the catalog, the walk kept together yesterday, once."""
    from datetime import timedelta

    from django.utils import timezone

    from rituals import catalog
    from rituals.models import Completion, Ritual

    if couple.rituals.exists():
        return
    now = timezone.now()
    for key in DEMO_RITUALS:
        template = catalog.get(key)
        if template is None:
            continue
        ritual = Ritual(
            couple=couple,
            template_key=key,
            title=template.title,
            description=template.why,
            how_to=template.how_to,
            prompt=template.prompt,
            rrule=template.rrule,
            start_date=timezone.localdate(now, sam.zone) - timedelta(days=14),
            start_time=template.time,
            time_zone=couple.time_zone,
            duration_minutes=template.duration_minutes,
            reminder_lead_minutes=template.reminder_lead_minutes,
            created_by=sam,
        )
        ritual.plan_next_reminder(now)
        ritual.save()
        for occurrence in ritual.schedule.previous_before(now - timedelta(days=1), 3):
            Completion.objects.create(
                ritual=ritual, occurrence_at=occurrence, user=alex, together=True
            )
