from __future__ import annotations

from django.contrib import admin

from couples.models import Couple, Invitation, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    readonly_fields = ["user", "seat", "joined_at", "left_at"]


@admin.register(Couple)
class CoupleAdmin(admin.ModelAdmin):
    list_display = ["pk", "name", "created_at", "archived_at"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "couple",
        "email",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    exclude = ["seed", "token_hash", "code_hash"]
    readonly_fields = ["couple", "invited_by", "accepted_by"]
