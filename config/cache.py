"""Django's Redis cache, with short timeouts and a degraded mode for when Redis is out.

PostgreSQL holds every fact; Redis only holds copies and counters. So a
Redis that refuses connections, or is frozen and answers nothing, must cost
a page no more than a short timeout, and then nothing at all:

1. Every command has the connect and read timeouts of ``redis_caches`` (a
   quarter of a second by default, ``REDIS_TIMEOUT_MS``) and no retries.
2. The first command that fails to reach Redis marks the server unreachable
   for this whole process (``Outage``): from then on no thread of it waits
   on Redis. One background thread pings Redis every half second instead.
3. Meanwhile each alias does what its ``WHEN_UNREACHABLE`` option says:

   - ``"local"`` (``default``: Tend's and allauth's rate limits): this
     process's memory stands in, so limits count per process until Redis
     is back.
   - ``"miss"`` (``copies``: sessions, page regions and their versions,
     copies of what PostgreSQL holds, never to be kept per process): reads
     miss, so callers go to PostgreSQL; writes and deletes are skipped.

4. A skipped write or delete would leave Redis holding an outdated copy (a
   session since ended, a page version since changed) that a frozen Redis
   still has when it thaws. So its key is remembered, and once Redis
   answers the thread deletes every remembered key *before* the process
   goes back to reading Redis. (A deleted session copy is read again from
   PostgreSQL; a deleted page version starts again at a new random number,
   which no cached region was filed under.)

What step 4 can't reach is bounded by ``MAX_TIMEOUT``: nothing in
``copies`` lives longer than 10 minutes, so a copy left behind by a process
that ended before Redis came back, or by a Redis that some processes could
reach and others couldn't, is gone 10 minutes after it was written.

Speed: Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis``
for every cache call, and each one fills a table of some 170 reply
callbacks: about 0.1 ms a call, paid two or three times per page. A
``redis.Redis`` over a connection pool is safe to share between threads, so
one per pool is kept instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import cached_property
from urllib.parse import urlsplit

import redis
from django.core.cache import caches
from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)

# Refused, reset, closed, or no answer within the socket timeouts.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def redis_caches(url: str, *, timeout: float = 0.25) -> dict[str, dict]:
    """The ``CACHES`` setting for one Redis server (also used by tests on a private one)."""
    # redis-py retries nothing on connections it gets these options for: a
    # Redis that didn't answer once costs one timeout, then the outage mode.
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    return {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "tend",
            "OPTIONS": {**options, "WHEN_UNREACHABLE": "local"},
        },
        "copies": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "tend",
            "OPTIONS": {**options, "WHEN_UNREACHABLE": "miss", "MAX_TIMEOUT": 10 * 60},
        },
    }


class Outage:
    """What this process knows about one Redis server being out of reach.

    Shared by every alias and thread that uses the server (see ``outage_for``).
    """

    PROBE_EVERY = 0.5
    MAX_REMEMBERED = 100_000

    def __init__(self, location: str) -> None:
        self.location = location
        self.since: float | None = None  # time.monotonic() when found out of reach
        self.error = ""
        self.stale: set[str] = set()
        self.overflowed = False
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._client: redis.Redis | None = None
        self._closed = False

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: Exception, client: redis.Redis) -> None:
        """A command couldn't reach Redis: stop using it until the watcher says it's back."""
        with self._lock:
            self.error = type(error).__name__
            self._client = client
            if self.since is None:
                logger.warning(
                    "Redis at %s is out of reach (%s): serving from PostgreSQL without it",
                    _display(self.location),
                    self.error,
                )
            self._watch()

    def remember(self, keys: Iterable[str]) -> None:
        """These keys' writes were skipped: delete them once Redis answers."""
        with self._lock:
            if len(self.stale) < self.MAX_REMEMBERED:
                self.stale.update(keys)
            elif not self.overflowed:
                self.overflowed = True
                logger.error(
                    "more than %d cache writes skipped: the rest stay in Redis until they expire",
                    self.MAX_REMEMBERED,
                )
            # Redis may have come back between the caller's check and now: the
            # watcher must still run once to delete these.
            self._watch()

    def close(self) -> None:
        """Stop watching (tests)."""
        self._closed = True

    def start_over(self) -> None:
        """In a forked child: no thread came along, and what the parent skipped is the
        parent's to delete. The child finds out about Redis for itself."""
        self._lock = threading.Lock()
        self.since = None
        self.stale = set()
        self.overflowed = False
        self._watcher = None

    def _watch(self) -> None:
        """Under the lock: mark the server out of reach, and make sure a watcher runs."""
        if self.since is None:
            self.since = time.monotonic()
        if self._watcher is None and self._client is not None:
            self._watcher = threading.Thread(
                target=self._wait_for_redis, name="tend-redis-watch", daemon=True
            )
            self._watcher.start()

    def _wait_for_redis(self) -> None:
        """Ping until Redis answers, delete what was remembered, then let the process back in."""
        client = self._client
        while not self._closed:
            time.sleep(self.PROBE_EVERY)
            try:
                client.ping()
                with self._lock:
                    keys = list(self.stale)
                for start in range(0, len(keys), 500):
                    client.delete(*keys[start : start + 500])
            except UNREACHABLE:
                continue
            with self._lock:
                self.stale.difference_update(keys)
                if self.stale:  # more were skipped meanwhile: another round
                    continue
                out_for = time.monotonic() - self.since
                self.since = None
                self.overflowed = False
                self._watcher = None
            logger.warning(
                "Redis at %s answers again after %.1f s; %d cached copies deleted",
                _display(self.location),
                out_for,
                len(keys),
            )
            return


def _display(location: str) -> str:
    """host:port/db of each server, without the password a URL may carry."""
    shown = []
    for url in location.split(";"):
        parts = urlsplit(url)
        shown.append(f"{parts.hostname}:{parts.port or 6379}{parts.path}")
    return ";".join(shown)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()
# One client, so one connection pool, per server and options in a process (RedisCache._cache).
_clients: dict[tuple, RedisCacheClient] = {}
_clients_lock = threading.Lock()


def outage_for(location: str) -> Outage:
    with _outages_lock:
        if location not in _outages:
            _outages[location] = Outage(location)
        return _outages[location]


def forget_outages() -> None:
    """Stop every watcher and forget what was known, and the shared clients (tests)."""
    with _outages_lock:
        for outage in _outages.values():
            outage.close()
        _outages.clear()
    forget_clients()


def forget_clients(**kwargs) -> None:
    """New CACHES (tests): the next cache objects make their clients afresh."""
    if kwargs.get("setting", "CACHES") == "CACHES":
        with _clients_lock:
            _clients.clear()


setting_changed.connect(forget_clients, dispatch_uid="config.cache.forget_clients")


def _after_fork_in_child() -> None:
    global _outages_lock, _clients_lock
    _outages_lock = threading.Lock()
    _clients_lock = threading.Lock()  # redis-py's pools start over in a child by themselves
    for outage in _outages.values():
        outage.start_over()


os.register_at_fork(after_in_child=_after_fork_in_child)


def reachable(cache) -> bool:
    """False while ``cache`` is serving without Redis (a local-memory cache is always reachable)."""
    outage = getattr(cache, "outage", None)
    return outage is None or not outage.down


def health() -> str:
    """For /healthz: "ok", or "error: …" saying why the cache serves without Redis."""
    cache = caches["default"]
    try:
        cache.set("healthz", "ok", 5)
        round_trip = cache.get("healthz") == "ok"
    except Exception as error:  # reported, not raised: /healthz says what's wrong
        return f"error: {type(error).__name__}"
    if not reachable(cache):
        return f"error: {cache.outage.error}"
    return "ok" if round_trip else "error: no round trip"


class _Miss:
    """What a ``"miss"`` alias answers while Redis is out of reach: nothing is there."""

    def get(self, key, default=None, version=None):
        return default

    def get_many(self, keys, version=None):
        return {}

    def has_key(self, key, version=None):
        return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return None

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return False

    def delete(self, key, version=None):
        return False

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return list(data)

    def delete_many(self, keys, version=None):
        return None

    def incr(self, key, delta=1, version=None):
        raise ValueError(f"Key '{key}' not found.")


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    """Django's Redis cache with the outage mode above.

    OPTIONS, besides redis-py's: ``WHEN_UNREACHABLE`` (``"local"`` or
    ``"miss"``) and ``MAX_TIMEOUT`` (seconds no key outlives, or None).
    """

    @cached_property
    def _cache(self) -> RedisCacheClient:
        """Shared by every cache object of the process for the same server: Django
        makes a cache object per thread and, under ASGI, per request (its
        ``caches`` are context-local), and each would open a connection pool,
        so a new connection to Redis, of its own: measured under uvicorn, the
        largest cost of a live move."""
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
            return client

    def __init__(self, server, params) -> None:
        options = dict(params.get("OPTIONS", {}))
        self.when_unreachable = options.pop("WHEN_UNREACHABLE", "miss")
        self.max_timeout = options.pop("MAX_TIMEOUT", None)
        if self.when_unreachable not in ("local", "miss"):
            raise ValueError(
                f"WHEN_UNREACHABLE must be 'local' or 'miss', got {self.when_unreachable!r}"
            )
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = RedisCacheClient
        self.outage = outage_for(";".join(self._servers))
        if self.when_unreachable == "local":
            # One store per process (LocMemCache keeps it by name), whichever thread asks.
            self._fallback = LocMemCache(
                f"tend-without-redis:{self.outage.location}",
                {
                    "TIMEOUT": params.get("TIMEOUT", 300),
                    "KEY_PREFIX": params.get("KEY_PREFIX", ""),
                    "VERSION": params.get("VERSION", 1),
                    "OPTIONS": {"MAX_ENTRIES": 10_000},
                },
            )
        else:
            self._fallback = _Miss()

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        timeout = super().get_backend_timeout(timeout)
        if self.max_timeout is not None and (timeout is None or timeout > self.max_timeout):
            return self.max_timeout
        return timeout

    def _either(
        self, operation: str, *args, written: Callable[[], list[str]] | None = None, **kwargs
    ):
        """Run ``operation`` on Redis; if Redis is out of reach, on the fallback."""
        if not self.outage.down:
            try:
                return getattr(super(), operation)(*args, **kwargs)
            except UNREACHABLE as error:
                self.outage.failed(error, self._cache.get_client(write=True))
        if written is not None and self.when_unreachable == "miss":
            self.outage.remember(written())
        return getattr(self._fallback, operation)(*args, **kwargs)

    def _keys(self, keys, version) -> Callable[[], list[str]]:
        return lambda: [self.make_key(key, version=version) for key in keys]

    def get(self, key, default=None, version=None):
        return self._either("get", key, default, version=version)

    def get_many(self, keys, version=None):
        return self._either("get_many", keys, version=version)

    def has_key(self, key, version=None):
        return self._either("has_key", key, version=version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        written = self._keys([key], version)
        return self._either("add", key, value, timeout, version=version, written=written)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        written = self._keys([key], version)
        return self._either("set", key, value, timeout, version=version, written=written)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        written = self._keys([key], version)
        return self._either("touch", key, timeout, version=version, written=written)

    def delete(self, key, version=None):
        return self._either("delete", key, version=version, written=self._keys([key], version))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        written = self._keys(list(data), version)
        return self._either("set_many", data, timeout, version=version, written=written)

    def delete_many(self, keys, version=None):
        keys = list(keys)
        written = self._keys(keys, version)
        return self._either("delete_many", keys, version=version, written=written)

    def incr(self, key, delta=1, version=None):
        written = self._keys([key], version)
        return self._either("incr", key, delta, version=version, written=written)
