"""Which cached regions a write makes stale: versions per scope of a couple's data.

A cached region (``couples.fragments``, ``{% fragment %}``) is filed under
the versions of the *scopes* it reads, and a write replaces the version of
exactly the scopes it changes, so it evicts only the regions that show what
it wrote. A click in a live exercise no longer empties the ritual pages; a
ritual kept empties that ritual's page and the dashboard, not the others.

Scopes of one couple:

- ``SPACE``: who is in the space and how they are shown (names, zones), the
  space's own name and zone, its calendar address. Every region reads it.
  Bumped by ``Couple.save``, ``calendar.regenerate``, ``Membership.save``
  (joining, leaving; and a membership deleted with an account) and a
  member's profile (``couples.receivers``).
- ``AGENDA``: the dashboard's region: today's rituals and marks, the live
  and latest exercises, today's question. Bumped by ``Ritual.save`` and
  ``delete``, ``mark_kept``/``unmark`` (raw SQL), ``Session.save`` when a
  session starts, ends, or changes once over, and ``daily.answer``.
- ``ritual(pk)``: one ritual's page below its title: the ritual, its marks,
  its mutes. Bumped with AGENDA by the ritual's writes, alone by its mutes.
- ``RITUALS``: the couple's rituals and their record together (the rituals
  list, the week, the rhythm). Bumped with ``ritual(pk)`` by every write of
  one of them: the ritual itself, its marks and its mutes.
- ``JOURNAL``: what the partners wrote and did in exercises (history,
  summaries, appreciations, the story, the quizzes, the daily question).
  Bumped by ``Entry.save`` and ``delete`` (every step that writes an
  answer, the daily question, the journal's forms) and with AGENDA by
  ``Session.save`` when a session starts or ends.

Whole pages are cached too (``couples.pages``): ``PAGES`` names the scopes
each reads, by route name; a member page not named there is rendered every
time (``NOT_CACHED`` says why, and ``tests/test_cached_regions.py`` checks
that every member page is in one or the other).

Writes that change nothing a region shows bump nothing: the reminder tick's
next-due columns (``rituals.dispatch``), deliveries, the steps of a live
session that write no answer (timers, turns), calendar addresses.
``tests/test_cached_regions.py`` renders every region and cached page fresh
and from the cache after each kind of write and compares them, so a write
that shows somewhere and bumps nothing fails there.

Each bump is made at once and, inside a transaction, again after commit:
a reader that takes the version while the write is in flight may render
either the old or the new rows and file them under that version, which
nobody reads once the after-commit bump lands. A version is a random number,
never an increment: one round trip, and a version lost to eviction or a
restart never comes back to one that old copies were filed under.

While Redis is out of reach (``config.cache``) ``versions`` answers None:
regions are rendered fresh and not stored. A bump that can't reach Redis is
remembered and deleted as soon as Redis answers, before this process reads
a region again, so no copy filed under the old version is served after.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from django.core.cache import caches
from django.db import transaction

from config.cache import reachable

# The "copies" cache keeps nothing longer than 10 minutes (config/cache.py).
VERSION_TTL = 10 * 60

SPACE = "space"
AGENDA = "agenda"
RITUALS = "rituals"
JOURNAL = "journal"
# How the partners' own data exports stand (home.models.DataExport).
EXPORTS = "exports"


def ritual(pk: int) -> str:
    return f"ritual:{pk}"


# The scopes each cached region reads, from the parts its template tag names
# (``{% fragment "ritual" ritual.pk … %}``: the first part is the ritual).
REGIONS: dict[str, Callable[[Sequence], tuple[str, ...]]] = {
    "dashboard": lambda parts: (SPACE, AGENDA),
    "ritual": lambda parts: (SPACE, ritual(parts[0])),
    # The rhythm page's two halves: the rituals' record, and what the two wrote and did.
    "rhythm_kept": lambda parts: (SPACE, RITUALS),
    "rhythm_journal": lambda parts: (SPACE, JOURNAL),
}


def _ritual_page(kwargs) -> tuple[str, ...]:
    return (SPACE, ritual(kwargs["pk"]))


def _exercise_page(kwargs) -> tuple[str, ...]:
    # A live session shows on each (a banner, the list's "join" button): its
    # start and end bump JOURNAL with AGENDA, so a keep, which bumps AGENDA
    # for the dashboard, leaves the exercise pages kept.
    return (SPACE, JOURNAL)


# Whole pages kept by ``couples.pages``, by route name: the scopes each reads.
PAGES: dict[str, Callable[[dict], tuple[str, ...]]] = {
    "dashboard": lambda kwargs: (SPACE, AGENDA),
    "rituals": lambda kwargs: (SPACE, RITUALS),
    "ritual_week": lambda kwargs: (SPACE, RITUALS),
    "rhythm": lambda kwargs: (SPACE, RITUALS, JOURNAL),  # with what they wrote and did
    "ritual_new": lambda kwargs: (SPACE,),
    "ritual_detail": _ritual_page,
    "ritual_edit": _ritual_page,
    "ritual_delete": _ritual_page,
    "exercises": _exercise_page,
    "daily_question": _exercise_page,
    "exercise_history": _exercise_page,
    "exercise_summary": _exercise_page,
    "appreciation": _exercise_page,
    "our_story": _exercise_page,
    "love_map": _exercise_page,
    "love_quiz": _exercise_page,
    "self_check": _exercise_page,
    "weekly_checkins": _exercise_page,
    # The account's own pages: the viewer's row is part of every page's key
    # (couples.pages), the space (names, the calendar address) is SPACE.
    "profile": lambda kwargs: (SPACE,),
    "calendar_settings": lambda kwargs: (SPACE,),
    "delete_account": lambda kwargs: (SPACE,),
    "leave": lambda kwargs: (SPACE,),
    "join": lambda kwargs: (SPACE,),
    "get_help": lambda kwargs: (SPACE,),
    # Kept only while it stands still: not while it is being prepared, nor
    # in its last minutes before it expires (home.views).
    "export": lambda kwargs: (EXPORTS,),
}

# Member pages rendered every time, and why.
NOT_CACHED = {
    "exercise_session": "a live session: every step changes it, and its stream follows them",
    "export_download": "a file read once from where the worker stored it, never a page to keep",
}


def _copies():
    return caches["copies"]


def _key(couple_id: int, scope: str) -> str:
    return f"region-version:{couple_id}:{scope}"


def versions(couple_id: int, scopes: Sequence[str]) -> list[int] | None:
    """The current version of each scope, in one round trip when all exist.

    A missing one starts at a random number. None while Redis is out of
    reach: render, don't cache.
    """
    return versions_and(couple_id, scopes, None)[0]


def versions_and(
    couple_id: int, scopes: Sequence[str], along: str | None
) -> tuple[list[int] | None, object]:
    """``versions``, and the cached value of the key ``along`` read in the same
    round trip (None when absent): a cached page and the versions it must match."""
    copies = _copies()
    keys = [_key(couple_id, scope) for scope in scopes]
    found = copies.get_many([*keys, along] if along else keys)
    kept = found.pop(along, None) if along else None
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            copies.add(key, secrets.randbits(62), VERSION_TTL)
        found |= copies.get_many(missing)
    if not reachable(copies) or len(found) < len(keys):
        return None, None
    return [found[key] for key in keys], kept


def changed(couple_id: int, *scopes: str) -> None:
    """What ``scopes`` of the couple show has changed: their regions are stale.

    Bumped at once (so this transaction's own later pages see the change)
    and, inside a transaction, again once it commits (see the docstring).
    """

    def bump() -> None:
        _copies().set_many(
            {_key(couple_id, scope): secrets.randbits(62) for scope in scopes}, VERSION_TTL
        )

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump, robust=True)
