"""Create the demo couple used by ``scripts/dev.sh``: Sam and Alex, sharing one space.

Running it again leaves a correct demo alone and repairs one that was changed
(a new password, a partner who left). It refuses to run with DEBUG off, so it
cannot plant known passwords on a real site by accident.

The couple gets about seven months of history (kept rituals, appreciations,
daily answers, finished exercises, love map rounds), so "Our rhythm" and the
history pages have something to show. It is written with bulk inserts that
skip rows already there, and drawn from a seeded random generator, so a
second run adds only the days that have passed since the first.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config import regions
from couples import services
from couples.models import Couple, Membership
from exercises import daily
from exercises.kinds import love_maps
from exercises.models import Entry, Session, Visibility
from rituals import catalog
from rituals.models import Completion, Ritual, local_day_bounds

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
            if created:
                backdate(couple)
            demo_rituals(couple, sam, alex)
            demo_history(couple, sam, alex)

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
HISTORY_WEEKS = 30


def history_start(now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now()) - timedelta(weeks=HISTORY_WEEKS)


def backdate(couple: Couple) -> None:
    """A fresh demo space looks as old as its history."""
    since, _ = local_day_bounds(history_start(), couple.memberships.first().user.zone)
    Couple.objects.filter(pk=couple.pk).update(created_at=since)
    couple.memberships.update(joined_at=since)
    couple.created_at = since


def demo_rituals(couple: Couple, sam: User, alex: User) -> None:
    """A few rituals from the catalog, planned since the history begins."""
    now = timezone.now()
    start = history_start(now)
    # A demo made before it had a history: its rituals start far enough back.
    couple.rituals.filter(template_key__in=DEMO_RITUALS, start_date__gt=start).update(
        start_date=start
    )
    if couple.rituals.exists():
        return
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
            start_date=start,
            start_time=template.time,
            time_zone=couple.time_zone,
            duration_minutes=template.duration_minutes,
            reminder_lead_minutes=template.reminder_lead_minutes,
            created_by=sam,
        )
        ritual.plan_next_reminder(now)
        ritual.save()


# ---------- History ----------

# Ritual keys and how often each is kept; a fortnight away (weeks 9 and 10
# before now) leaves the quiet gap every real couple has.
KEEP_CHANCE = {"daily-check-in": 0.55, "after-dinner-walk": 0.45, "weekly-check-in": 0.8}
AWAY_WEEKS = (9, 10)
APPRECIATIONS = [
    "You made coffee before I was even awake.",
    "The way you listened when I talked about work.",
    "You remembered to call my mum.",
    "Thank you for the walk in the rain, it was lovely.",
    "You fixed the wobbly chair without being asked.",
    "Your laugh at dinner.",
    "You let me sleep in.",
    "The note you left on the fridge.",
    "You stayed patient when I was grumpy.",
    "You planned Saturday so I didn't have to.",
]
ANSWERS = [
    "Honestly, something small: a warm cup and a quiet corner.",
    "The smell of cut grass. It takes me straight back to summers at my grandparents'.",
    "I'd pick the cello, no question.",
    "Tired but content. Ask me again after dinner.",
    "You, every time you hum while cooking.",
    "A lazy breakfast and nowhere to be.",
]
SESSION_KINDS = ["temperature", "hug", "weekly_checkin", "eye_gazing", "stress_talk", "ladder"]


def _chance(*seed) -> random.Random:
    """The same draw for the same day on every run: reruns add rows, never change them."""
    return random.Random("tend-demo:" + ":".join(str(part) for part in seed))


def _away(day: date, today: date) -> bool:
    return (today - day).days // 7 in AWAY_WEEKS


def demo_history(couple: Couple, sam: User, alex: User) -> None:
    now = timezone.now()
    today = timezone.localdate(now, sam.zone)
    first = history_start(now)
    days = [first + timedelta(days=n) for n in range((today - first).days)]  # up to yesterday
    Completion.objects.bulk_create(
        _completions(couple, sam, alex, first, now, today), ignore_conflicts=True
    )
    Entry.objects.bulk_create(
        _appreciations(couple, sam, alex, days, today) + _daily_answers(couple, sam, alex, days),
        ignore_conflicts=True,
    )
    if not couple.sessions.filter(finished_at__lt=now - timedelta(days=7)).exists():
        _sessions(couple, sam, alex, days, today)
    regions.changed(couple.pk, regions.SPACE)


def _completions(couple, sam, alex, first: date, now: datetime, today: date) -> list[Completion]:
    completions = []
    start, _ = local_day_bounds(first, sam.zone)
    for ritual in couple.rituals.filter(template_key__in=DEMO_RITUALS):
        for occurrence in ritual.schedule.between(start, now - timedelta(hours=12)):
            day = timezone.localdate(occurrence, sam.zone)
            draw = _chance(ritual.template_key, day)
            if _away(day, today) or draw.random() > KEEP_CHANCE[ritual.template_key]:
                continue
            if draw.random() < 0.7:
                completions += [
                    Completion(ritual=ritual, occurrence_at=occurrence, user=user, together=True)
                    for user in (sam, alex)
                ]
            else:
                user = sam if draw.random() < 0.5 else alex
                completions.append(Completion(ritual=ritual, occurrence_at=occurrence, user=user))
    return completions


def _appreciations(couple, sam, alex, days: list[date], today: date) -> list[Entry]:
    entries = []
    for day in days:
        for user, keen in ((sam, 0.5), (alex, 0.4)):
            draw = _chance("appreciation", user.email, day)
            if _away(day, today) or draw.random() > keen:
                continue
            for slot in range(1, draw.choice([1, 1, 2, 3]) + 1):
                private = slot == 3 and draw.random() < 0.5
                entries.append(
                    Entry(
                        couple=couple,
                        author=user,
                        prompt_key=f"appreciation:{day.isoformat()}:{slot}",
                        visibility=Visibility.PRIVATE if private else Visibility.SHARED,
                        text=draw.choice(APPRECIATIONS),
                    )
                )
    return entries


def _daily_answers(couple, sam, alex, days: list[date]) -> list[Entry]:
    entries = []
    for day in days:
        draw = _chance("daily", day).random()
        who = (sam, alex) if draw < 0.55 else (sam,) if draw < 0.7 else ()
        key = daily.key_for(day, daily.question_for(couple, day))
        entries += [
            Entry(
                couple=couple,
                author=user,
                prompt_key=key,
                visibility=Visibility.SEALED,
                text=_chance("answer", user.email, day).choice(ANSWERS),
            )
            for user in who
        ]
    return entries


def _sessions(couple, sam, alex, days: list[date], today: date) -> None:
    """One or two finished exercises most weeks, every fourth one a round of Love maps."""
    planned: list[tuple[Session, str | None]] = []
    questions = list(love_maps.questions())
    _chance("questions").shuffle(questions)
    for number, day in enumerate(day for day in days if day.weekday() in (2, 5)):
        draw = _chance("session", day)
        if _away(day, today) or draw.random() > 0.7:
            continue
        finished_at = datetime.combine(day, datetime.min.time(), sam.zone) + timedelta(hours=20)
        question = questions[number % len(questions)] if number % 4 == 0 else None
        kind = "love_maps" if question else SESSION_KINDS[number % len(SESSION_KINDS)]
        state = {"first_seat": 1}
        if question:
            state["rounds"] = [{"question": question, "subject": 1 + number % 2}]
        session = Session(
            couple=couple,
            kind=kind,
            started_by=sam if number % 2 else alex,
            status=Session.Status.FINISHED,
            step=99,
            state=state,
            created_at=finished_at - timedelta(minutes=20),
            updated_at=finished_at,
            finished_at=finished_at,
        )
        planned.append((session, question))
    Session.objects.bulk_create([session for session, _ in planned])
    seats = {1: sam, 2: alex}
    entries = []
    for session, question in planned:
        if question is None:
            continue
        # bulk_create sets primary keys on PostgreSQL and SQLite alike
        subject = session.state["rounds"][0]["subject"]
        guesser = 2 if subject == 1 else 1
        category = love_maps.questions()[question]["category"]
        draw = _chance("rating", session.finished_at)
        common = {"couple": couple, "session": session, "created_at": session.finished_at}
        entries += [
            Entry(
                **common,
                author=seats[subject],
                prompt_key="love_maps:round-1",
                visibility=Visibility.SEALED,
                text=draw.choice(ANSWERS),
                data={"question": question, "category": category, "subject_seat": subject},
            ),
            Entry(
                **common,
                author=seats[guesser],
                prompt_key="love_maps:round-1",
                visibility=Visibility.SEALED,
                text=draw.choice(ANSWERS),
                data={"question": question, "category": category, "subject_seat": subject},
            ),
            Entry(
                **common,
                author=seats[subject],
                prompt_key="love_maps:reveal-1-rating",
                visibility=Visibility.SHARED,
                data={
                    "rating": draw.choice(["spot_on", "close", "close", "not_quite"]),
                    "question": question,
                    "category": category,
                    "subject_seat": subject,
                },
            ),
        ]
    Entry.objects.bulk_create(entries)
