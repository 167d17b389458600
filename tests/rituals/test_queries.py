"""Pages cost the same number of queries however long the history."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rituals.models import Completion
from rituals.views import HISTORY_PAGE
from tests.conftest import forget_cached_pages, forget_whole_pages
from tests.factories import make_ritual

NOW = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


def with_history(couple, alice, bob, kept: int):
    ritual = make_ritual(couple, start_date=date(2024, 1, 1), now=NOW)
    make_ritual(couple, title="Tea", rrule="FREQ=WEEKLY;BYDAY=MO,TH", now=NOW)
    first = ritual.schedule.previous_before(NOW, kept)
    Completion.objects.bulk_create(
        Completion(ritual=ritual, occurrence_at=o, user=alice if n % 2 else bob, note="nice")
        for n, o in enumerate(first)
    )
    return ritual


def count_queries(client, url) -> int:
    # The rows above went in by bulk_create, which doesn't mark the couple's
    # cached regions stale: measure the page as a cold cache renders it.
    forget_cached_pages()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("page", ["dashboard", "ritual_detail", "ritual_week", "rituals"])
def test_query_count_is_the_same_with_1_and_500_completions(couple, alice, bob, alice_client, page):
    counts = []
    for kept in (1, 500):
        Completion.objects.all().delete()
        couple.rituals.all().delete()
        ritual = with_history(couple, alice, bob, kept)
        assert Completion.objects.count() == kept
        url = reverse(page, args=[ritual.pk]) if page == "ritual_detail" else reverse(page)
        with time_machine.travel(NOW, tick=False):
            counts.append(count_queries(alice_client, url))
    assert counts[0] == counts[1], counts


def test_the_dashboard_with_rituals_costs_five_queries_cold_and_one_cached(
    couple, alice, bob, alice_client, django_assert_num_queries
):
    with_history(couple, alice, bob, 500)
    forget_cached_pages()
    # the viewer (user, both seats, the space), then for the cached regions:
    # rituals, completions in the window, exercise sessions, my newest daily
    # answer (today's question card, "start here"); the login session is cached
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(5):
        alice_client.get("/")
    # the regions now come from the cache: the viewer
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(1):
        alice_client.get("/")


def test_the_ritual_page_costs_five_queries_cold_two_with_its_regions_one_kept_whole(
    couple, alice, bob, alice_client, django_assert_num_queries
):
    ritual = with_history(couple, alice, bob, 500)
    forget_cached_pages()
    # the viewer, the ritual, then for the cached regions: kept set (streak),
    # my mute, history window (the login session is cached)
    url = reverse("ritual_detail", args=[ritual.pk])
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(5):
        alice_client.get(url)
    # the regions now come from the cache: the viewer, the ritual
    forget_whole_pages()
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(2):
        alice_client.get(url)
    # and the whole page too: the viewer alone
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(1):
        alice_client.get(url)


def test_the_history_pages_back(couple, alice, bob, alice_client):
    ritual = with_history(couple, alice, bob, 100)
    with time_machine.travel(NOW, tick=False):
        page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
        assert page.count('class="slot') >= HISTORY_PAGE
        older = page.split('href="?before=')[1].split('"')[0]
        earlier = alice_client.get(reverse("ritual_detail", args=[ritual.pk]), {"before": older})
    assert earlier.status_code == 200
    first_times = re.findall(r'slot__time" datetime="([^"]+)"', page)
    earlier_times = re.findall(r'slot__time" datetime="([^"]+)"', earlier.content.decode())
    assert len(first_times) == HISTORY_PAGE and earlier_times
    oldest_first = datetime.fromisoformat(first_times[-1])
    assert all(datetime.fromisoformat(t) < oldest_first for t in earlier_times)
