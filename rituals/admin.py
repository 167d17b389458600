from __future__ import annotations

from django.contrib import admin

from rituals.models import Completion, ReminderDelivery, Ritual


@admin.register(Ritual)
class RitualAdmin(admin.ModelAdmin):
    list_display = ["pk", "title", "couple", "rrule", "time_zone", "is_active", "next_reminder_at"]
    list_filter = ["is_active"]
    search_fields = ["title"]
    raw_id_fields = ["couple", "created_by", "muted_by"]


@admin.register(ReminderDelivery)
class ReminderDeliveryAdmin(admin.ModelAdmin):
    """The outbox: what was sent, skipped or failed, and why."""

    list_display = [
        "pk",
        "ritual",
        "recipient",
        "occurrence_at",
        "status",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status"]
    date_hierarchy = "occurrence_at"
    search_fields = ["recipient__email", "ritual__title", "last_error"]
    raw_id_fields = ["ritual", "recipient"]
    readonly_fields = ["created_at", "claimed_at", "sent_at"]
    actions = ["retry_failed"]

    @admin.display(description="last error")
    def short_error(self, delivery: ReminderDelivery) -> str:
        return delivery.last_error[:80]

    @admin.action(description="Send the selected failed reminders again (if not too late)")
    def retry_failed(self, request, queryset) -> None:
        from django.utils import timezone

        from rituals.dispatch import START_GRACE

        # Too late by the same rule as the tick's and the worker's.
        count = queryset.filter(
            status=ReminderDelivery.Status.FAILED,
            occurrence_at__gt=timezone.now() - START_GRACE,
        ).update(
            status=ReminderDelivery.Status.PENDING,
            next_attempt_at=timezone.now(),
            attempts=0,
            abandoned=0,
        )
        self.message_user(request, f"{count} reminder(s) will be sent by the next tick.")


@admin.register(Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ["pk", "ritual", "user", "occurrence_at", "together"]
    raw_id_fields = ["ritual", "user"]
