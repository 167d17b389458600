"""The security suite's shared pieces: a couple with planted secrets, and a
snapshot of every row of our tables to prove a request changed nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.db import models
from django.utils import timezone

from accounts.models import User
from couples import services
from couples.models import Couple, Membership
from exercises import engine
from exercises.models import Entry, Session, Visibility
from rituals import calendar, links
from rituals.models import Completion, ReminderDelivery, Ritual
from tests.exports import prepared_export
from tests.factories import make_couple, make_ritual

# Distinctive words the couple wrote: none may reach an outsider.
COUPLE_NAME = "Harbour of QX7"
RITUAL_TITLE = "Sunrise tea QX7-title"
RITUAL_PROMPT = "Which dream QX7-prompt"
RITUAL_HOW_TO = "Kettle first QX7-howto"
ALICE_SHARED = "QX7-alice-shared-reflection"
BOB_SHARED = "QX7-bob-shared-reflection"
BOB_SEALED = "QX7-bob-sealed-story"
BOB_PRIVATE = "QX7-bob-private-journal"
BOB_NOTE = "QX7-bob-kept-note"
SECRETS = [
    "Alice",
    "Bob",
    "alice@example.com",
    "bob@example.com",
    COUPLE_NAME,
    RITUAL_TITLE,
    RITUAL_PROMPT,
    RITUAL_HOW_TO,
    ALICE_SHARED,
    BOB_SHARED,
    BOB_SEALED,
    BOB_PRIVATE,
    BOB_NOTE,
]
OUR_APPS = ("accounts", "couples", "rituals", "exercises", "home")


def past_occurrence(ritual: Ritual):
    return ritual.schedule.previous_before(timezone.now() - timedelta(days=1), 1)[0]


@pytest.fixture
def pair_space(alice, bob):
    """Alice and Bob's space, with something of every kind in it.

    The same keys as ``tests.test_access_matrix.space``, so ``url_for`` builds
    every route's address from it; the invitation is an open one of a full space.
    """
    couple = make_couple(alice, bob, name=COUPLE_NAME)
    invitation, token, code = services.issue_invitation(couple, alice)
    ritual = make_ritual(
        couple, title=RITUAL_TITLE, prompt=RITUAL_PROMPT, how_to=RITUAL_HOW_TO, created_by=alice
    )
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=alice
    )
    Completion.objects.create(
        ritual=ritual, occurrence_at=past_occurrence(ritual), user=bob, note=BOB_NOTE
    )
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    Entry.objects.create(
        couple=couple,
        session=session,
        author=alice,
        prompt_key="eye_gazing:reflect",
        text=ALICE_SHARED,
    )
    Entry.objects.create(
        couple=couple,
        session=session,
        author=bob,
        prompt_key="eye_gazing:reflect",
        text=BOB_SHARED,
    )
    Entry.objects.create(
        couple=couple,
        author=bob,
        prompt_key="story:how-we-met",
        text=BOB_SEALED,
        visibility=Visibility.SEALED,
    )
    Entry.objects.create(
        couple=couple,
        author=bob,
        prompt_key="appreciation:2026-11-20:1",
        text=BOB_PRIVATE,
        visibility=Visibility.PRIVATE,
    )
    return {
        "couple": couple,
        "export": prepared_export(alice),
        "session": session,
        "invitation": invitation,
        "token": token,
        "code": code,
        "ritual": ritual,
        "delivery": delivery,
        "signed": {
            "feed": calendar.feed_token(couple),
            "done": links.done_token(delivery.pk),
            "mute": links.mute_token(ritual.pk, alice.pk),
            "unsubscribe": links.unsubscribe_token(alice.pk),
        },
    }


# ---------- snapshots ----------


def snapshot_models() -> list[type[models.Model]]:
    """Every table of our apps (many-to-many ones included) and allauth's addresses."""
    found = [
        model
        for label in OUR_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    return [*found, EmailAddress]


class Owner:
    """What an outsider may change: his own user row and his own space's rows."""

    def __init__(self, user: User | None) -> None:
        self.user_id = user.pk if user else None
        self.couples = (
            set(Membership.objects.filter(user=user).values_list("couple_id", flat=True))
            if user
            else set()
        )

    def owns(self, model, row: dict, rituals: set[int], sessions: set[int]) -> bool:
        if self.user_id is None:
            return False
        if model is User:
            return row["id"] == self.user_id
        if model is Couple:
            return row["id"] in self.couples
        if "couple_id" in row:
            return row["couple_id"] in self.couples
        if "ritual_id" in row:
            return row["ritual_id"] in rituals
        if "session_id" in row:
            return row["session_id"] in sessions
        if "user_id" in row:
            return row["user_id"] == self.user_id
        return False


def snapshot(
    outsider: User | None = None, owner: Owner | None = None, tables: list | None = None
) -> dict:
    """All rows by table and primary key, minus those the outsider owns."""
    owner = owner or Owner(outsider)
    rituals = set(Ritual.objects.filter(couple__in=owner.couples).values_list("pk", flat=True))
    sessions = set(Session.objects.filter(couple__in=owner.couples).values_list("pk", flat=True))
    rows: dict[str, dict] = {}
    for model in tables or snapshot_models():
        table = {}
        for row in model._base_manager.order_by("pk").values():
            if not owner.owns(model, row, rituals, sessions):
                table[row[model._meta.pk.attname]] = row
        rows[model._meta.label] = table
    return rows


def differences(before: dict, after: dict) -> list[str]:
    changes = []
    for label in before.keys() | after.keys():
        old, new = before.get(label, {}), after.get(label, {})
        for pk in old.keys() | new.keys():
            if old.get(pk) != new.get(pk):
                changes.append(f"{label} #{pk}: {old.get(pk)} -> {new.get(pk)}")
    return sorted(changes)


def assert_unchanged(before: dict, after: dict, what: str = "") -> None:
    changes = differences(before, after)
    assert not changes, f"{what} changed rows:\n" + "\n".join(changes)
