"""Shared fixtures: alice and bob share a space; charlie is an outsider with his own."""

from __future__ import annotations

import os
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


def _clear_rate_limits() -> None:
    """Forget rate-limit counters between tests without flushing the broker's Redis."""
    backend = cache._cache if hasattr(cache, "_cache") else None
    client_factory = getattr(backend, "get_client", None)
    if client_factory is None:
        cache.clear()
        return
    client = client_factory(write=True)
    for key in client.scan_iter(match="*rl:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    _clear_rate_limits()
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
