"""Rendered regions of a couple's pages, kept in the cache until something changes.

The dashboard's rituals-and-exercises grid and everything below a ritual
page's title cost most of those pages' time (queries, schedule rules, many
small templates) and change only when one of the two partners writes
something. So each region is cached as HTML under a key made of:

- the couple, by primary key *and* creation instant (a recreated database
  that reuses a primary key never meets the old space's fragments);
- the couple's version, a random number in the cache that every write to
  what these regions show replaces (``changed``), at once and after commit;
- the viewer (fragments are per partner: "You" / their name, their forms),
  their time zone, the page's path and whatever the template adds (their
  local date, a page of history).

Why the version is bumped (again) after commit: a reader that takes the
version while the write is in flight may render either the old or the new
rows and file them under that version, which nobody reads once the
after-commit bump lands.

A CSRF token must never be cached (it belongs to one browser): regions are
rendered with a placeholder in its place, swapped for the viewer's own token
on every response. Writes made outside Tend's views (the admin, a shell) are
covered by ``FRAGMENT_TTL``: a region lives at most that long.

While Redis is out of reach (``config.cache``) regions are rendered fresh
from the database and not stored: ``version`` answers None. A bump that
can't reach Redis is not lost: the cache remembers the version's key and
deletes it as soon as Redis answers, before this process reads a region
from Redis again, so the version starts over at a new random number and no
copy filed under the old one is served once Redis is back (with its data,
as after a freeze). That holds for either bump: the one at once, and the
one after commit that closes the in-flight reader's window above.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from config.cache import reachable

FRAGMENT_TTL = 10 * 60
# The "copies" cache keeps nothing longer than 10 minutes (config/cache.py).
VERSION_TTL = 10 * 60


def _copies():
    return caches["copies"]


def _version_key(couple_id: int) -> str:
    return f"couple-version:{couple_id}"


def version(couple_id: int) -> int | None:
    """The couple's current version; a missing one starts at a random number.

    Starting anywhere but 1 means a version lost to eviction or a restart
    doesn't come back to a number that old fragments were filed under.
    None while Redis is out of reach: render, don't cache.
    """
    copies = _copies()
    key = _version_key(couple_id)
    current = copies.get(key)
    if current is None:
        copies.add(key, secrets.randbits(62), VERSION_TTL)
        current = copies.get(key)
    return current if reachable(copies) else None


def changed(couple_id: int) -> None:
    """What the couple's pages show has changed: their cached regions are stale.

    Bumped at once (so this transaction's own later pages see the change) and,
    inside a transaction, again once it commits (so no reader can have filed
    the rows as they were before the commit under the first bump).
    """

    def bump() -> None:
        # A new random number, not an increment: one round trip (Django's
        # incr is two), and no version ever comes back to an old one.
        _copies().set(_version_key(couple_id), secrets.randbits(62), VERSION_TTL)

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump, robust=True)


@cache
def csrf_placeholder() -> str:
    """Stands for the CSRF token in cached HTML; the same in every process.

    Derived from the secret key, so no one can type it into a note to have
    it swapped for a token.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), b"tend-fragment-csrf", hashlib.sha256)
    return "csrf" + digest.hexdigest()[:32]


def fragment_key(name: str, request, parts: list) -> str | None:
    """The cache key of one region as this viewer sees it, or None if not cacheable."""
    couple = getattr(request, "couple", None)
    user = request.user
    if couple is None or not user.is_authenticated:
        return None
    if not hasattr(request, "_couple_version"):
        request._couple_version = version(couple.pk)
    if request._couple_version is None:
        return None
    identity = [
        csrf_placeholder(),  # a rotated SECRET_KEY changes it: old copies can't be used
        couple.pk,
        couple.created_at.timestamp(),
        request._couple_version,
        user.pk,
        user.time_zone,
        request.path,
        *parts,
    ]
    digest = hashlib.blake2b("\x1f".join(map(str, identity)).encode(), digest_size=16)
    return f"fragment:{name}:{couple.pk}:{digest.hexdigest()}"


def get(key: str) -> str | None:
    return _copies().get(key)


def put(key: str, html: str) -> None:
    _copies().set(key, html, FRAGMENT_TTL)
