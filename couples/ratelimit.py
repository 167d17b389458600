"""A small fixed-window rate limit on the shared cache (Redis in production).

Each action is limited per account, and per address only by a generous
ceiling: many people share one address (a café, a dormitory, a carrier's NAT),
and one of them using up their own allowance must not lock out the others.
"""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address allauth's limits use too (``TRUSTED_PROXY_COUNT`` behind a proxy)."""
    return get_adapter(request).get_client_ip(request)


def hit(action: str, scope: str, key: str) -> bool:
    """Count one attempt; False once the limit for ``action`` per ``scope`` is used up."""
    limit, window = settings.TEND_RATE_LIMITS[action][scope]
    bucket = int(time.time() // window)
    cache_key = f"rl:{action}:{scope}:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    return count <= limit


def allow(request: HttpRequest, action: str) -> bool:
    """Limit per account, then count against the address's ceiling.

    An attempt the account's own limit refuses is not counted for the address:
    someone hammering after their allowance is gone fills only their own count.
    """
    if not hit(action, "account", str(request.user.pk)):
        return False
    return hit(action, "address", client_address(request))
