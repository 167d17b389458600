"""A small fixed-window rate limit on the shared cache (Redis in production)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def hit(action: str, key: str) -> bool:
    """Count one attempt; False once the limit for ``action`` is used up."""
    limit, window = settings.TEND_RATE_LIMITS[action]
    bucket = int(time.time() // window)
    cache_key = f"rl:{action}:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    return count <= limit


def allow(request: HttpRequest, action: str) -> bool:
    """Limit per user and per address: either running out refuses."""
    by_user = hit(action, f"u{request.user.pk}")
    by_address = hit(action, f"a{client_address(request)}")
    return by_user and by_address
