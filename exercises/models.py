from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config import regions
from couples.models import Couple, Membership
from exercises import hub


def live_kinds() -> list[tuple[str, str]]:
    """The kinds a session may have: one per registered flow, titled as it is.

    Session.kind takes its choices from this callable, so migrations store a
    reference to it rather than a list: adding an exercise (a module in
    exercises/kinds/) needs no migration. Don't move or rename it:
    migration 0002 names it.
    """
    from exercises.engine import REGISTRY  # the engine imports these models

    # A flow without a title still gets a label: the system check reports it, not this.
    return [(kind, getattr(flow, "title", kind)) for kind, flow in REGISTRY.items()]


class Visibility(models.TextChoices):
    SHARED = "shared", "Shared: you both see it"
    SEALED = "sealed", "Sealed until you've both answered"
    PRIVATE = "private", "Private: only you"


class Session(models.Model):
    """One live run of an exercise by a couple, on two devices or one screen.

    ``version`` goes up with every change, so a poll that brings the version
    it last saw can be answered "nothing new" from one small query.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        FINISHED = "finished", "Finished"
        ENDED = "ended", "Ended early"

    class Mode(models.TextChoices):
        TWO_DEVICES = "two_devices", "Each on our own device"
        ONE_SCREEN = "one_screen", "Side by side on this screen"

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="sessions")
    # A registered flow's kind (exercises/kinds/); the system check makes sure
    # every kind stored here still has its flow.
    kind = models.CharField(max_length=20, choices=live_kinds)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.TWO_DEVICES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    step = models.PositiveSmallIntegerField(default=0)
    # Whose turn it is (seat 1 or 2) where a step is taken in turns.
    turn_seat = models.PositiveSmallIntegerField(null=True, blank=True)
    # Seats that have done their part of the current step (ready, had their turn…).
    done_seats = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    state = models.JSONField(default=dict, blank=True)
    # The timer of the current step: started by the server when both are ready.
    timer_started_at = models.DateTimeField(null=True, blank=True)
    timer_elapsed_ms = models.PositiveIntegerField(default=0)
    timer_running = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["couple", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["couple"],
                condition=Q(status="active"),
                name="one_active_session_per_couple",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    def save(self, *args, **kwargs) -> None:
        # The dashboard's cached region shows the live session (which, whose)
        # and the latest finished ones (when, how long), not the steps: a
        # session starting, ending or changed once over makes it stale; a
        # click in a live one doesn't (``config.regions``).
        shown = (
            self._state.adding
            or getattr(self, "_loaded_status", None) != self.status
            or not self.is_active
        )
        super().save(*args, **kwargs)
        if shown:
            regions.changed(self.couple_id, regions.AGENDA, regions.JOURNAL)
        self._loaded_status = self.status
        # Open live pages and waiting cards of the space look again (after commit),
        # told whose move it was when it was one (``engine.act``).
        seat = getattr(self, "moved_by", None)
        known = seat is not None and isinstance(self.version, int)
        move = hub.Move(seat, self.pk, self.version, self.is_active) if known else None
        hub.announce(self.couple_id, move)

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        session = super().from_db(db, field_names, values, **kwargs)
        session._loaded_status = session.status
        return session

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def one_screen(self) -> bool:
        return self.mode == self.Mode.ONE_SCREEN

    def timer_elapsed(self, now: datetime | None = None) -> int:
        """Milliseconds the current step's timer has run."""
        elapsed = self.timer_elapsed_ms
        if self.timer_running and self.timer_started_at:
            now = now or timezone.now()
            elapsed += int((now - self.timer_started_at).total_seconds() * 1000)
        return elapsed

    @property
    def duration_seconds(self) -> int | None:
        end = self.finished_at or (None if self.is_active else self.updated_at)
        return int((end - self.created_at).total_seconds()) if end else None


class Readable(models.Expression):
    """The visibility rule of ``EntryQuerySet.visible_to`` as one SQL condition.

    Written out rather than built from ``Exists`` and ``OuterRef``: the ORM
    took about 5 ms to build and compile those three subqueries on every
    call, the largest cost of a live stage and of the journal pages drawn
    afresh. The entry is this query's own base table under whatever alias it
    has (``compiler.query.base_table``), so the condition stays right inside
    a subquery too; every value is a parameter.
    ``tests/exercises/test_visibility_rule.py`` checks it against the rule
    written with the ORM, for every reader and entry of a populated space.
    """

    output_field = models.BooleanField()

    def __init__(self, reader_id: int) -> None:
        super().__init__()
        self.reader_id = reader_id

    def as_sql(self, compiler, connection):
        qn = compiler.quote_name
        q = connection.ops.quote_name
        entry = qn(compiler.query.base_table)
        entries, members = q(Entry._meta.db_table), q(Membership._meta.db_table)
        couple, author, session = q("couple_id"), q("author_id"), q("session_id")
        user, left_at, key, visibility = (
            q("user_id"),
            q("left_at"),
            q("prompt_key"),
            q("visibility"),
        )
        # Only quoted names from the models and the query's own alias are
        # spliced in; every value is a parameter.
        member = (
            f"EXISTS (SELECT 1 FROM {members} m WHERE m.{couple} = {entry}.{couple}"  # noqa: S608
            f" AND m.{left_at} IS NULL AND m.{user} = {{}})"
        )
        sql = (
            f"({entry}.{author} = %s OR {entry}.{visibility} = %s"  # noqa: S608
            f" OR ({entry}.{visibility} = %s"
            f" AND EXISTS (SELECT 1 FROM {entries} r WHERE r.{author} = %s"
            f" AND r.{couple} = {entry}.{couple} AND r.{key} = {entry}.{key}"
            f" AND COALESCE(r.{session}, 0) = COALESCE({entry}.{session}, 0))"
            f" AND {member.format(f'{entry}.{author}')}"
            f" AND {member.format('%s')}))"
        )
        reader = self.reader_id
        return sql, [reader, Visibility.SHARED, Visibility.SEALED, reader, reader]


class EntryQuerySet(models.QuerySet["Entry"]):
    def visible_to(self, user) -> EntryQuerySet:
        """What ``user`` may read: their own, shared ones, and a sealed one once
        ``user`` has answered the same prompt too, while both are members.

        The rule lives here so every view, fragment, poll and export uses the
        same one. It asks whether the *reader* has answered, not whether
        "someone else" has: a sealed answer never opens for anyone who hasn't
        given their own. And it opens only between the two current members of
        the space: a partner's sealed answer closes again when they leave or
        delete their account, so neither the one who stays nor anyone after
        can open it by answering the same prompt. (As SQL: ``Readable``; the same
        rule built with the ORM is its reference in ``tests/exercises/test_visibility_rule.py``.)
        """
        return self.filter(Readable(user.pk))


class Entry(models.Model):
    """Something one partner wrote or chose, with who may read it."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="entries")
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="entries", null=True, blank=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exercise_entries"
    )
    # Stable key of what was answered, e.g. "temperature:appreciations" or
    # "daily:2026-11-23:d-017": sealed entries open when both share one.
    prompt_key = models.CharField(max_length=120)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    text = models.TextField(blank=True, max_length=4000)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "prompt_key", "author"],
                condition=Q(session__isnull=False),
                name="one_entry_per_session_prompt_author",
            ),
            models.UniqueConstraint(
                fields=["couple", "prompt_key", "author"],
                condition=Q(session__isnull=True),
                name="one_entry_per_couple_prompt_author",
            ),
        ]
        indexes = [models.Index(fields=["couple", "prompt_key"])]

    def __str__(self) -> str:
        return f"{self.author} on {self.prompt_key}"

    # The pages that show what partners wrote are cached whole (config.regions).
    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        regions.changed(self.couple_id, regions.JOURNAL)

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        regions.changed(self.couple_id, regions.JOURNAL)
        return deleted
