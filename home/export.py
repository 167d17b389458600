"""Everything a user wrote, as JSON. Each app adds a section; nothing a partner
kept private, and nothing a partner wrote, is included."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from accounts.models import User
from couples.models import Invitation, Membership


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def profile_section(user: User) -> dict:
    return {
        "email": user.email,
        "display_name": user.display_name,
        "time_zone": user.time_zone,
        "date_joined": _iso(user.date_joined),
    }


def spaces_section(user: User) -> list[dict]:
    memberships = (
        Membership.objects.filter(user=user).select_related("couple").order_by("joined_at")
    )
    return [
        {
            "space": m.couple.name,
            "joined_at": _iso(m.joined_at),
            "left_at": _iso(m.left_at),
        }
        for m in memberships
    ]


def invitations_section(user: User) -> list[dict]:
    invitations = Invitation.objects.filter(invited_by=user).order_by("created_at")
    return [
        {
            "email": inv.email,
            "created_at": _iso(inv.created_at),
            "expires_at": _iso(inv.expires_at),
            "accepted_at": _iso(inv.accepted_at),
            "revoked_at": _iso(inv.revoked_at),
        }
        for inv in invitations
    ]


def rituals_section(user: User) -> dict:
    from rituals.models import Completion, Ritual

    created = Ritual.objects.filter(created_by=user).order_by("created_at")
    kept = Completion.objects.filter(user=user).order_by("occurrence_at")
    return {
        "created": [
            {
                "title": r.title,
                "description": r.description,
                "how_to": r.how_to,
                "prompt": r.prompt,
                "rrule": r.rrule,
                "start_date": r.start_date.isoformat(),
                "start_time": r.start_time.isoformat(),
                "time_zone": r.time_zone,
            }
            for r in created
        ],
        # Rows as tuples, not models: a year of marks and answers is thousands
        # of rows, and building a model for each cost most of the export.
        "kept": [
            {"ritual": title, "occurrence_at": _iso(at), "together": together, "note": note}
            for title, at, together, note in kept.values_list(
                "ritual__title", "occurrence_at", "together", "note"
            )
        ],
    }


def exercises_section(user: User) -> list[dict]:
    """Only what this user wrote, sealed and private ones included: they are theirs."""
    from exercises.models import Entry, Session

    kinds = dict(Session._meta.get_field("kind").flatchoices)
    entries = Entry.objects.filter(author=user).order_by("created_at")
    rows = entries.values_list(
        "session__kind", "prompt_key", "visibility", "text", "data", "created_at"
    )
    return [
        {
            "exercise": kinds.get(kind, kind) if kind else prompt_key.split(":")[0],
            "prompt": prompt_key,
            "visibility": visibility,
            "text": text,
            "data": data,
            "written_at": _iso(created_at),
        }
        for kind, prompt_key, visibility, text, data, created_at in rows
    ]


SECTIONS: dict[str, Callable[[User], object]] = {
    "profile": profile_section,
    "spaces": spaces_section,
    "invitations_sent": invitations_section,
    "rituals": rituals_section,
    "exercises": exercises_section,
}


def build_export(user: User) -> dict:
    data: dict[str, object] = {"format": "tend-export/1", "exported_at": _iso(timezone.now())}
    for name, section in SECTIONS.items():
        data[name] = section(user)
    return data
