"""Rendered regions of a couple's pages, kept in the cache until something changes.

The dashboard's rituals-and-exercises grid and everything below a ritual
page's title cost most of those pages' time (queries, schedule rules, many
small templates) and change only when one of the two partners writes
something. So each region is cached as HTML under a key made of:

- the couple, by primary key *and* creation instant (a recreated database
  that reuses a primary key never meets the old space's fragments);
- the versions of the scopes the region reads (``config.regions``), which
  the writes that change them replace, at once and after commit: a write
  evicts exactly the regions that show it;
- the viewer (fragments are per partner: "You" / their name, their forms),
  their time zone, the page's full path (query string included: the cached
  HTML holds links and forms made from it) and whatever the template adds
  (their local date, a page of history).

A CSRF token must never be cached (it belongs to one browser): regions are
rendered with a placeholder in its place, swapped for the viewer's own token
on every response. Writes made outside Tend's code (a shell, raw SQL typed
by hand) are covered by ``FRAGMENT_TTL``: a region lives at most that long.

While Redis is out of reach (``config.cache``) regions are rendered fresh
from the database and not stored (``regions.versions`` answers None); how a
lost bump is made good when Redis returns is told in ``config.regions``.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings
from django.core.cache import caches

from config import regions

FRAGMENT_TTL = 10 * 60


def _copies():
    return caches["copies"]


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
    scopes = regions.REGIONS[name](parts)
    memo = request.__dict__.setdefault("_region_versions", {})
    if scopes not in memo:
        memo[scopes] = regions.versions(couple.pk, scopes)
    if memo[scopes] is None:
        return None
    identity = [
        csrf_placeholder(),  # a rotated SECRET_KEY changes it: old copies can't be used
        couple.pk,
        couple.created_at.timestamp(),
        *memo[scopes],
        user.pk,
        user.time_zone,
        request.get_full_path(),
        *parts,
    ]
    digest = hashlib.blake2b("\x1f".join(map(str, identity)).encode(), digest_size=16)
    return f"fragment:{name}:{couple.pk}:{digest.hexdigest()}"


def get(key: str) -> str | None:
    return _copies().get(key)


def put(key: str, html: str) -> None:
    _copies().set(key, html, FRAGMENT_TTL)
