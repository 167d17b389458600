"""A partner's data export, prepared in the background and kept a week.

The export is everything one person wrote, so its cost grows with their
history; building it in a request would make a download cost as much as a
year of pages. A worker builds it once (``home.tasks``) and the download then
serves the stored file. Each person has at most one export: asking for a fresh
one replaces it, and a link to the one it replaced no longer works.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# How long a prepared export can be downloaded; then it is deleted.
KEPT_FOR = timedelta(days=7)
# Past this, a page still preparing tells the person they need not wait.
SLOW_AFTER = timedelta(minutes=1)


class DataExport(models.Model):
    class State(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_export"
    )
    # The download's address; new with every request, so an old link dies.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_at = models.DateTimeField(default=timezone.now)
    # An outbox, as the invitation email's: while the build is owed, when it may
    # next be queued. A lost broker message, or a broker that was down when the
    # export was asked for, costs a minute (the sweep), not the export.
    build_due_at = models.DateTimeField(null=True, blank=True)
    build_attempts = models.PositiveSmallIntegerField(default=0)
    ready_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    payload = models.TextField(blank=True, default="")
    size = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["build_due_at"],
                condition=models.Q(build_due_at__isnull=False),
                name="export_build_owed",
            ),
            models.Index(
                fields=["ready_at"],
                condition=models.Q(ready_at__isnull=False),
                name="export_ready",
            ),
        ]

    def __str__(self) -> str:
        return f"Export of user {self.user_id} ({self.state(timezone.now())})"

    @property
    def expires_at(self):
        return self.ready_at + KEPT_FOR if self.ready_at else None

    def state(self, now) -> State:
        if self.ready_at is not None:
            return self.State.EXPIRED if now >= self.expires_at else self.State.READY
        if self.failed_at is not None:
            return self.State.FAILED
        return self.State.PREPARING

    def start_over(self, now) -> None:
        """Become a fresh request, its build owed now, under a new token (so the
        old download's link dies). Not saved."""
        self.token = uuid.uuid4()
        self.requested_at = self.build_due_at = now
        self.build_attempts = 0
        self.ready_at = self.failed_at = None
        self.payload, self.size = "", 0

    def is_slow(self, now) -> bool:
        return self.state(now) == self.State.PREPARING and now - self.requested_at > SLOW_AFTER

    @property
    def filename(self) -> str:
        return f"tend-export-{self.ready_at:%Y-%m-%d}.json"
