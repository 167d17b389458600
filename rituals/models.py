from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import zone_named
from config import regions
from couples.models import Couple
from rituals.recurrence import Schedule

REMINDER_LEADS = [
    (0, "At the start time"),
    (5, "5 minutes before"),
    (10, "10 minutes before"),
    (15, "15 minutes before"),
    (30, "30 minutes before"),
    (60, "1 hour before"),
    (120, "2 hours before"),
    (240, "4 hours before"),
    (1440, "1 day before"),
]


class Ritual(models.Model):
    """A small recurring habit of a couple, scheduled in local time."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="rituals")
    template_key = models.CharField(max_length=60, blank=True)
    title = models.CharField(max_length=80)
    description = models.TextField("why it matters", blank=True, max_length=1000)
    how_to = models.TextField("how to do it", blank=True, max_length=2000)
    prompt = models.CharField(
        "a line for the reminder",
        max_length=200,
        blank=True,
        help_text="Shown in the email nudge, e.g. a question to start with.",
    )
    rrule = models.CharField(max_length=200)
    start_date = models.DateField()
    start_time = models.TimeField()
    end_date = models.DateField(null=True, blank=True)
    time_zone = models.CharField(max_length=64)
    duration_minutes = models.PositiveSmallIntegerField(default=15)
    reminder_lead_minutes = models.PositiveIntegerField(default=15)
    muted_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="muted_rituals"
    )
    is_active = models.BooleanField(default=True)
    # The occurrence the next reminder is for, and when that reminder is due.
    # None once the schedule has ended or while paused.
    next_occurrence_at = models.DateTimeField(null=True, blank=True)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The create form's key (couples.once): one ritual per form, however often it's posted.
    request_key = models.CharField(max_length=32, blank=True, db_default="", editable=False)

    class Meta:
        ordering = ["start_time", "title"]
        indexes = [
            models.Index(
                fields=["next_reminder_at"],
                condition=Q(is_active=True, next_reminder_at__isnull=False),
                name="ritual_due_reminder",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "request_key"],
                condition=~Q(request_key=""),
                name="one_ritual_per_create_form",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    # What a ritual shows (title, schedule, paused, its marks) is on the
    # dashboard and on its own page: every write below makes those two stale,
    # and only those (``config.regions``). The reminder tick's bulk updates of
    # the next-due columns change nothing shown and skip this.
    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.regions_changed()

    def delete(self, *args, **kwargs):
        pk = self.pk  # the collector clears it
        deleted = super().delete(*args, **kwargs)
        self.regions_changed(pk)
        return deleted

    def regions_changed(self, pk: int | None = None) -> None:
        regions.changed(
            self.couple_id, regions.AGENDA, regions.RITUALS, regions.ritual(pk or self.pk)
        )

    # Marking kept is the busiest write there is, so each of these is one
    # plain statement: the ORM's bulk_create and delete collector cost more
    # than the statements themselves (profiled: 0.6 and 0.5 ms per call,
    # against 0.4 and 0.3 ms for the whole statement, round trip included).
    # Both are the same SQL in PostgreSQL and SQLite.
    def mark_kept(self, occurrence: datetime, user, note: str, together: bool) -> None:
        """The partner's mark on an occurrence: new, or their note and "together"
        updated. A double click racing itself ends as one mark with the later values."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO rituals_completion"
                " (ritual_id, occurrence_at, user_id, together, note, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (ritual_id, occurrence_at, user_id)"
                " DO UPDATE SET note = excluded.note, together = excluded.together",
                [self.pk, _db_instant(occurrence), user.pk, together, note, _db_instant()],
            )
        self.regions_changed()

    def unmark(self, occurrence: datetime, user) -> None:
        """Take back the partner's mark on an occurrence (nothing if there is none)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM rituals_completion"
                " WHERE ritual_id = %s AND occurrence_at = %s AND user_id = %s",
                [self.pk, _db_instant(occurrence), user.pk],
            )
        self.regions_changed()

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.time_zone)

    @property
    def schedule(self) -> Schedule:
        return Schedule(
            rule=self.rrule,
            start_date=self.start_date,
            start_time=self.start_time,
            zone=self.zone,
            end_date=self.end_date,
        )

    @property
    def lead(self) -> timedelta:
        return timedelta(minutes=self.reminder_lead_minutes)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def next_occurrence_after(self, instant: datetime) -> datetime | None:
        return self.schedule.next_after(instant)

    def plan_next_reminder(self, now: datetime) -> None:
        """Point the reminder at the first occurrence whose reminder is still ahead.

        An occurrence whose reminder time has passed but which has not
        started yet is kept: its reminder goes out late rather than not at all.
        """
        if not self.is_active:
            self.next_occurrence_at = self.next_reminder_at = None
            return
        occurrence = self.schedule.next_after(now)
        self.next_occurrence_at = occurrence
        self.next_reminder_at = occurrence - self.lead if occurrence else None

    def is_occurrence(self, instant: datetime) -> bool:
        return self.schedule.includes(instant)


class ReminderDelivery(models.Model):
    """The outbox: one row per (ritual, occurrence, recipient), written before sending."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"

    ritual = models.ForeignKey(Ritual, on_delete=models.CASCADE, related_name="deliveries")
    occurrence_at = models.DateTimeField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Sends abandoned mid-way (the worker died or froze): a send that keeps
    # killing its worker is given up after a few, however much time is left.
    abandoned = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When a pending row may next be (re)queued; when a sending row was claimed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ritual", "occurrence_at", "recipient"], name="one_delivery_per_occurrence"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ritual} at {self.occurrence_at:%Y-%m-%d %H:%M}Z to {self.recipient}"


@receiver(m2m_changed, sender=Ritual.muted_by.through)
def _mutes_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """Whose emails are muted shows on the ritual's page ("Email me again") and the list."""
    if not action.startswith("post_"):
        return
    if not reverse:
        regions.changed(instance.couple_id, regions.RITUALS, regions.ritual(instance.pk))
        return
    # From the user's side (user.muted_rituals): the rituals named, or all of
    # them when cleared (pk_set is None then).
    rituals = Ritual.objects.filter(couple__memberships__user=instance)
    if pk_set is not None:
        rituals = rituals.filter(pk__in=pk_set)
    for couple_id, pk in rituals.values_list("couple_id", "pk").distinct():
        regions.changed(couple_id, regions.RITUALS, regions.ritual(pk))


class Completion(models.Model):
    """A partner's mark that an occurrence was kept."""

    # No index of its own on ritual: the unique constraint below leads with it
    # and serves every lookup by ritual (and by ritual and time, either way).
    # Fewer indexes make marking kept, the busiest write, cheaper.
    ritual = models.ForeignKey(
        Ritual, on_delete=models.CASCADE, related_name="completions", db_index=False
    )
    occurrence_at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="completions"
    )
    together = models.BooleanField(default=False)
    note = models.CharField(max_length=280, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ritual", "occurrence_at", "user"], name="one_completion_per_partner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} kept {self.ritual} ({self.occurrence_at:%Y-%m-%d})"


def _db_instant(instant: datetime | None = None):
    """An instant as the ORM writes it (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(instant or timezone.now())


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and the next one starts."""
    from rituals.recurrence import to_utc

    start = to_utc(datetime.combine(day, time.min), zone)
    end = to_utc(datetime.combine(day + timedelta(days=1), time.min), zone)
    return start, end
