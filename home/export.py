"""Everything a user wrote, as JSON. Each app adds a section; nothing a partner
kept private, and nothing a partner wrote, is included.

Its size grows with the person's history, so it is built by a worker
(``request_export``, then ``build`` in ``home.tasks``) and downloaded from
where it was stored (``home.models.DataExport``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from config import regions
from couples.models import Invitation, Membership
from home.models import KEPT_FOR, DataExport

logger = logging.getLogger(__name__)


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


# --- preparing it: asked for in a request, built by a worker (home.tasks) ---

# A claimed build not finished within this was abandoned by a worker that
# died mid-build: the sweep queues it again.
STALE_BUILD = timedelta(minutes=5)
# A build that raised this many times is given up: the page says so, and the
# person can ask again.
MAX_BUILD_ATTEMPTS = 3


def request_export(user: User) -> DataExport:
    """Ask for a fresh export of ``user``'s data; the build is queued after commit.

    One export per person, locked while it changes: a second click, or a second
    tab, while one is being prepared gets that one, not another build. Asking
    again once it is ready (or failed) replaces it, and its old link dies.
    """
    from home.tasks import build_data_export

    now = timezone.now()
    with transaction.atomic():
        export, created = DataExport.objects.select_for_update().get_or_create(
            user=user, defaults={"requested_at": now, "build_due_at": now}
        )
        if not created:
            if export.state(now) == DataExport.State.PREPARING:
                return export
            export.start_over(now)
            export.save()
        export_id, token = export.pk, export.token
        shown_changed(user.pk)
        transaction.on_commit(lambda: build_data_export.delay(export_id, str(token)), robust=True)
    return export


def shown_changed(user_id: int) -> None:
    """The export page (kept by ``couples.pages`` under EXPORTS) is stale for
    the person's space."""
    for couple_id in (
        Membership.objects.active().filter(user_id=user_id).values_list("couple_id", flat=True)
    ):
        regions.changed(couple_id, regions.EXPORTS)


def build(export_id: int, token: str) -> str:
    """Build one export, once: claim it (as ``couples.tasks`` claims an email),
    write the file, store it. A request for a fresh export meanwhile changes the
    token, and this build's result is dropped."""
    claimed_until = claim_build(export_id, token)
    if claimed_until is None:
        return "not-claimed"
    return finish_build(export_id, token, claimed_until)


def claim_build(export_id: int, token: str):
    """Take the build if it is owed now; the claim (when it lapses) or None."""
    now = timezone.now()
    claimed_until = now + STALE_BUILD
    if not DataExport.objects.filter(pk=export_id, token=token, build_due_at__lte=now).update(
        build_due_at=claimed_until, build_attempts=F("build_attempts") + 1
    ):
        return None
    return claimed_until


def finish_build(export_id: int, token: str, claimed_until) -> str:
    mine = DataExport.objects.filter(pk=export_id, token=token)
    export = mine.select_related("user").first()
    if export is None:  # deleted with its account, or replaced, since the claim
        return "gone"
    try:
        payload = json.dumps(build_export(export.user), indent=2, ensure_ascii=False)
    except Exception:  # recorded on the row; the person is told and can ask again
        logger.exception("Export %s: build failed (attempt %s)", export_id, export.build_attempts)
        if export.build_attempts >= MAX_BUILD_ATTEMPTS:
            mine.update(build_due_at=None, failed_at=timezone.now())
            shown_changed(export.user_id)
            return "failed"
        mine.update(build_due_at=timezone.now() + timedelta(minutes=export.build_attempts))
        return "retry"
    done = mine.filter(build_due_at=claimed_until).update(
        build_due_at=None,
        ready_at=timezone.now(),
        payload=payload,
        size=len(payload.encode()),
    )
    if not done:
        return "dropped"
    shown_changed(export.user_id)
    return "ready"


def owed_builds(limit: int = 500) -> list[tuple[int, str]]:
    return [
        (pk, str(token))
        for pk, token in DataExport.objects.filter(build_due_at__lte=timezone.now()).values_list(
            "pk", "token"
        )[:limit]
    ]


def delete_expired() -> int:
    """Exports are private words: none is kept past its week. (No page shows
    an expired one from the cache: ``home.views.export_page_stands_still``.)"""
    expired = DataExport.objects.filter(ready_at__lte=timezone.now() - KEPT_FOR)
    deleted, _ = expired.delete()
    return deleted
