from __future__ import annotations

from django.contrib import admin

from exercises.models import Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Sessions only: what partners wrote stays out of the admin on purpose."""

    list_display = [
        "pk",
        "couple",
        "kind",
        "status",
        "step",
        "version",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    raw_id_fields = ["couple", "started_by"]
    exclude = ["state"]
