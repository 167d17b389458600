"""Cached page regions: fresh after every change, per viewer, and no CSRF token kept."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from couples import fragments
from exercises import engine
from rituals.models import Completion
from tests.factories import PASSWORD, make_ritual
from tests.rituals.test_pages import NOW, TODAYS_WALK  # 21:00 in Berlin; the 19:00 walk


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ritual(couple):
    return make_ritual(couple, now=NOW)


def page(client, url="/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def keep(client, ritual, note="", **extra):
    data = {"occurrence": TODAYS_WALK.isoformat(), "note": note, "together": "on"}
    return client.post(reverse("ritual_keep", args=[ritual.pk]), data, **extra)


def stored_fragments() -> list[str]:
    """Every cached region, read back from LocMemCache or from Redis."""
    backend = cache._cache
    if isinstance(backend, dict):
        keys = [key for key in backend if ":fragment:" in key]
    else:
        keys = [key.decode() for key in backend.get_client().scan_iter(match="*:fragment:*")]
    # stored keys are "<prefix>:<version>:<key>"
    return [cache.get(key.split(":", 2)[2]) for key in keys]


def test_a_partners_mark_shows_on_a_dashboard_already_cached(
    couple, ritual, alice_client, bob_client, frozen
):
    assert "Bob marked it kept" not in page(alice_client)
    assert page(alice_client).count("We did it") == 1  # the cached copy, unchanged
    keep(bob_client, ritual, note="by the river")
    dashboard = page(alice_client)
    assert "Bob marked it kept: “by the river”" in dashboard


def test_undoing_a_mark_shows_on_both_ritual_pages(
    couple, ritual, alice_client, bob_client, frozen
):
    keep(bob_client, ritual)
    url = reverse("ritual_detail", args=[ritual.pk])
    assert "Bob marked it kept" in page(alice_client, url)
    assert re.search(r'streak__count">1<', page(alice_client, url))
    bob_client.post(
        reverse("ritual_unkeep", args=[ritual.pk]), {"occurrence": TODAYS_WALK.isoformat()}
    )
    mine = page(alice_client, url)
    assert "Bob marked it kept" not in mine
    assert "streak__count" not in mine  # no count of zero: "A day you miss is just a day"
    assert "streak--none" in mine


def test_a_renamed_partner_shows_under_their_new_name(
    couple, ritual, alice_client, bob_client, frozen
):
    keep(bob_client, ritual)
    assert "Bob marked it kept" in page(alice_client)
    form = {"display_name": "Robin", "time_zone": "America/New_York", "reminders_enabled": "on"}
    assert bob_client.post(reverse("profile"), form).status_code == 302
    assert "Robin marked it kept" in page(alice_client)


def test_a_renamed_or_paused_ritual_shows_at_once(couple, ritual, alice_client, bob_client, frozen):
    assert "Evening walk" in page(alice_client)
    bob_client.post(reverse("ritual_pause", args=[ritual.pk]))
    dashboard = page(alice_client)
    assert "Evening walk" not in dashboard
    assert "No rituals yet" not in dashboard  # paused, not gone
    assert "Nothing scheduled for today" in dashboard


def test_an_exercise_started_by_the_partner_shows_at_once(couple, bob, alice_client, frozen):
    assert "is waiting for you" not in page(alice_client)
    engine.start(couple, bob, 2, "eye_gazing", "two_devices", {})
    assert "Bob</strong> started <strong>eye gazing" in page(alice_client)


def test_a_deleted_partner_takes_their_notes_off_the_cached_page(
    couple, ritual, bob, alice_client, bob_client, frozen
):
    keep(bob_client, ritual, note="only mine to keep")
    assert "only mine to keep" in page(alice_client)
    response = bob_client.post(reverse("delete_account"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not Completion.objects.filter(note="only mine to keep").exists()
    assert "only mine to keep" not in page(alice_client)


def test_each_partner_and_each_space_gets_its_own_copy(
    couple, ritual, alice_client, bob_client, charlie_client, frozen
):
    keep(bob_client, ritual)
    assert "Bob marked it kept" in page(alice_client)
    assert "You marked it kept" in page(bob_client)
    assert "Evening walk" not in page(charlie_client)


def test_no_csrf_token_is_cached_and_each_browser_gets_its_own(couple, ritual, alice, frozen):
    phone, laptop = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    phone.force_login(alice)
    laptop.force_login(alice)
    page(phone)
    page(laptop)  # the regions now come from the cache
    stored = stored_fragments()
    assert len(stored) == 1  # the dashboard's regions
    assert any("csrfmiddlewaretoken" in html for html in stored)
    for html in stored:
        for token in re.findall(r'name="csrfmiddlewaretoken" value="([^"]*)"', html):
            assert token == fragments.csrf_placeholder()
    # the laptop's cached form works without JavaScript: its own token is in it
    html = page(laptop)
    assert fragments.csrf_placeholder() not in html
    token = re.search(r'id="slot-[^"]+".*?name="csrfmiddlewaretoken" value="([^"]+)"', html, re.S)[
        1
    ]
    data = {"occurrence": TODAYS_WALK.isoformat(), "csrfmiddlewaretoken": token}
    response = laptop.post(reverse("ritual_keep", args=[ritual.pk]), data)
    assert response.status_code == 302
    assert Completion.objects.filter(user=alice).exists()


def test_a_lost_version_starts_afresh(couple, ritual, alice_client, bob, frozen):
    assert "Bob marked it kept" not in page(alice_client)
    # A write the app didn't see (a shell, the admin), then the version is evicted.
    Completion.objects.create(ritual=ritual, occurrence_at=TODAYS_WALK, user=bob)
    assert "Bob marked it kept" not in page(alice_client)  # stale within FRAGMENT_TTL
    cache.delete(f"region-version:{couple.pk}:agenda")
    assert "Bob marked it kept" in page(alice_client)


def test_a_rotated_secret_key_never_serves_a_copy_made_with_the_old_one(
    couple, ritual, alice, settings, frozen
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    old_placeholder = fragments.csrf_placeholder()
    page(browser)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 50
    fragments.csrf_placeholder.cache_clear()  # as a restart would
    try:
        assert fragments.csrf_placeholder() != old_placeholder
        html = page(browser)
        assert old_placeholder not in html and fragments.csrf_placeholder() not in html
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
        data = {"occurrence": TODAYS_WALK.isoformat(), "csrfmiddlewaretoken": token}
        assert browser.post(reverse("ritual_keep", args=[ritual.pk]), data).status_code == 302
    finally:
        fragments.csrf_placeholder.cache_clear()


def test_muting_from_an_email_shows_on_the_cached_ritual_page(couple, ritual, alice, alice_client):
    url = reverse("ritual_detail", args=[ritual.pk])
    assert "Stop emails to me" in page(alice_client, url)
    ritual.muted_by.add(alice)  # as the email's "pause these" link does
    assert "Email me again" in page(alice_client, url)
    alice.muted_rituals.remove(ritual)  # from the other side of the relation
    assert "Stop emails to me" in page(alice_client, url)
