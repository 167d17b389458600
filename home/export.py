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
    kept = Completion.objects.filter(user=user).select_related("ritual").order_by("occurrence_at")
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
        "kept": [
            {
                "ritual": c.ritual.title,
                "occurrence_at": _iso(c.occurrence_at),
                "together": c.together,
                "note": c.note,
            }
            for c in kept
        ],
    }


def exercises_section(user: User) -> list[dict]:
    """Only what this user wrote, sealed and private ones included: they are theirs."""
    from exercises.models import Entry

    entries = Entry.objects.filter(author=user).select_related("session").order_by("created_at")
    return [
        {
            "exercise": e.session.get_kind_display() if e.session else e.prompt_key.split(":")[0],
            "prompt": e.prompt_key,
            "visibility": e.visibility,
            "text": e.text,
            "data": e.data,
            "written_at": _iso(e.created_at),
        }
        for e in entries
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
