"""Shared fixtures: alice and bob share a space; charlie is an outsider with his own."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import UserFactory, make_couple

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run there unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "test-artifacts"


def _clear_cache(*patterns: str) -> None:
    """Forget cached keys matching ``patterns`` without flushing the Redis
    database the Celery broker shares."""
    backend = cache._cache if hasattr(cache, "_cache") else None
    client_factory = getattr(backend, "get_client", None)
    if client_factory is None:  # LocMemCache: stored keys are ":<version>:<key>"
        for stored in [k for k in backend if any(fnmatch(k, p) for p in patterns)]:
            cache.delete(stored.split(":", 2)[2])
        return
    client = client_factory(write=True)
    for pattern in patterns:
        for key in client.scan_iter(match=pattern):
            client.delete(key)


def forget_cached_pages() -> None:
    """Drop every cached page and region (``couples.pages``, ``couples.fragments``):
    the next page is cold.

    For tests that write rows behind the app's back (bulk_create) and then
    measure a page as it is rendered from the database.
    """
    _clear_cache("*:page:*", "*:fragment:*", "*:region-version:*")


def forget_whole_pages() -> None:
    """Drop the whole pages kept by ``couples.pages`` (their regions stay): the
    next look runs the view, for tests that count what the view itself costs."""
    _clear_cache("*:page:*")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """No rate-limit counter or cached page region outlives its test."""
    _clear_cache("*rl:*", "*:page:*", "*:fragment:*", "*:region-version:*")
    yield


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", display_name="Alice", time_zone="Europe/Berlin")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", display_name="Bob", time_zone="America/New_York")


@pytest.fixture
def couple(alice, bob):
    return make_couple(alice, bob, name="Alice & Bob")


@pytest.fixture
def charlie(db):
    user = UserFactory(email="charlie@example.com", display_name="Charlie")
    make_couple(user, name="Charlie's space")
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return logged_in(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return logged_in(bob)


@pytest.fixture
def charlie_client(charlie) -> Client:
    return logged_in(charlie)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
