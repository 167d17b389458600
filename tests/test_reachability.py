"""Every page of a space can be found: a crawl of links from the dashboard reaches
each member page of the URLconf within three clicks.

The pages come from the URLconf (``tests.member_pages``), so a new page that no
link leads to fails here, as the appreciation journal, "How I feel loved", the
self-check and "Our story" once did (only typing their address found them).
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve

from couples import services
from exercises import engine
from exercises.models import Session
from tests.conftest import logged_in
from tests.exports import prepared_export
from tests.factories import UserFactory, make_couple, make_ritual
from tests.member_pages import member_pages

CLICKS = 3


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.hrefs.append(href)


def links_on(html: str) -> list[str]:
    """Same-site links of a page, without their #fragment."""
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            continue  # another site, a mailto:, or a link within the page
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def route_of(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).url_name
    except Resolver404:
        return None


def crawl(client, start: str = "/", clicks: int = CLICKS) -> dict[str, int]:
    """Route name -> fewest clicks from ``start`` to a link of that route."""
    reached: dict[str, int] = {}
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        url, depth = queue.popleft()
        name = route_of(url)
        if name is not None:
            reached.setdefault(name, depth)
        if depth == clicks:
            continue  # reached by its link; its own links would be a fourth click
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for link in links_on(response.content.decode()):
            if link not in seen:
                seen.add(link)
                queue.append((link, depth + 1))
    return reached


@pytest.fixture
def lived_in_space(couple, alice, bob):
    """A pair who have used Tend a little: a ritual, a finished exercise, and
    one going now that Bob started (so Alice's dashboard invites her in), and
    the download of her data she asked for."""
    make_ritual(couple)
    prepared_export(alice)
    finished = engine.start(couple, alice, 1, "hug", "two_devices", {})
    finished.status = Session.Status.FINISHED
    finished.save()
    engine.start(couple, bob, 2, "eye_gazing", "two_devices", {})
    return couple


def test_every_member_page_is_within_three_clicks_of_the_dashboard(lived_in_space, alice, db):
    paired = crawl(logged_in(alice))
    # Someone on their own in a space reaches the page for joining by code.
    solo = UserFactory()
    services.issue_invitation(make_couple(solo), solo)
    alone = crawl(logged_in(solo))
    reached = {name: min(paired.get(name, 9), alone.get(name, 9)) for name in paired | alone}
    missing = sorted(member_pages() - set(reached))
    assert missing == [], f"no link leads to these pages within {CLICKS} clicks: {missing}"


def test_the_journal_pages_are_one_click_from_the_dashboard(lived_in_space, alice):
    reached = crawl(logged_in(alice), clicks=1)
    for name in ("appreciation", "love_quiz", "self_check", "our_story", "daily_question"):
        assert reached.get(name) == 1, name


def test_the_exercises_page_links_every_exercise_and_journal_page(lived_in_space, alice):
    reached = crawl(logged_in(alice), start="/exercises/", clicks=1)
    pages = {
        "daily_question",
        "appreciation",
        "love_quiz",
        "self_check",
        "our_story",
        "love_map",
        "weekly_checkins",
        "exercise_history",
        "get_help",
    }
    assert pages <= set(reached), sorted(pages - set(reached))
