"""Our rhythm: the numbers each chart shows, whose entries count, and what the page costs.

The page is read the way a screen reader would read it: through the text
table of each chart. A separate test checks that every bar drawn in the SVG
says the same as its table, so the tables are a faithful stand-in for the
drawing everywhere else.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from couples import services
from couples.models import Membership
from exercises import daily
from exercises.kinds import love_maps
from exercises.models import Entry, Session, Visibility
from home import charts, rhythm
from rituals.models import Completion
from tests.conftest import forget_cached_pages, logged_in
from tests.factories import UserFactory, make_ritual

ROOT = Path(__file__).resolve().parents[2]
# A Wednesday: the window's weeks run from Monday 25 May to Monday 16 November 2026.
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
THIS_WEEK = "Week of 16 Nov 2026 (this week)"
# the viewer (user, seat, space and partner in one), rituals, then one
# aggregate query per chart: kept rituals, appreciations, daily answers,
# exercises, love map. The login session itself comes from the cache.
PAIRED_QUERIES = 7
SOLO_QUERIES = 6  # no daily question for one


# ---------- Reading the page ----------


class _Page(HTMLParser):
    """The tables (by caption) and the bars of each SVG (by chart key)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svgs: dict[str, list[dict[str, str]]] = {}
        self.scales: list[str] = []
        self.hidden_text: list[str] = []
        self._caption: str | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_caption = False
        self._in_scale = False
        self._svg: list[dict[str, str]] | None = None
        self._svg_key = ""

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("th", "td") and self._caption is not None:
            self._cell = []
        elif tag == "svg" and "rhythm-svg" in attrs.get("class", ""):
            assert attrs.get("aria-hidden") == "true"
            self._svg, self._svg_key = [], ""
        elif tag == "pattern" and self._svg is not None and not self._svg_key:
            self._svg_key = attrs["id"].removesuffix("-hatch")
        elif tag == "rect" and self._svg is not None and "data-value" in attrs:
            self._svg.append(attrs)
        elif tag == "p" and attrs.get("class") == "rhythm-scale":
            self._in_scale = True

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in ("th", "td") and self._cell is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self.tables[self._caption.strip()] = [row for row in self._rows if row]
            self._caption = None
        elif tag == "svg" and self._svg is not None:
            self.svgs[self._svg_key] = self._svg
            self._svg = None
        elif tag == "p":
            self._in_scale = False

    def handle_data(self, data):
        if self._in_caption:
            self._caption += data
        elif self._cell is not None:
            self._cell.append(data)
        elif self._in_scale:
            self.scales.append(data.strip())


def read(client) -> tuple[str, _Page]:
    response = client.get(reverse("rhythm"))
    assert response.status_code == 200
    html = response.content.decode()
    page = _Page()
    page.feed(html)
    return html, page


def row(page: _Page, caption: str, header: str) -> list[str]:
    for cells in page.tables[caption]:
        if cells[0] == header:
            return cells[1:]
    raise AssertionError(f"no row {header!r} in {caption!r}")


def nonzero_rows(page: _Page, caption: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells[1:]
        for cells in page.tables[caption][1:]
        if any(cell != "0" for cell in cells[1:])
    }


# ---------- Building history ----------


def appreciation(couple, author, day: date, slot: int, visibility: str, text: str = "Thanks"):
    return Entry.objects.create(
        couple=couple,
        author=author,
        prompt_key=f"appreciation:{day.isoformat()}:{slot}",
        visibility=visibility,
        text=text,
    )


def daily_answer(couple, author, day: date, text: str = "An answer"):
    return Entry.objects.create(
        couple=couple,
        author=author,
        prompt_key=daily.key_for(day, daily.question_for(couple, day)),
        visibility=Visibility.SEALED,
        text=text,
    )


def love_map_rating(couple, author, question: str, at: datetime) -> Entry:
    session = Session.objects.create(
        couple=couple, kind="love_maps", status=Session.Status.FINISHED, finished_at=at
    )
    category = love_maps.questions()[question]["category"]
    return Entry.objects.create(
        couple=couple,
        session=session,
        author=author,
        prompt_key="love_maps:reveal-1-rating",
        visibility=Visibility.SHARED,
        data={"rating": "close", "question": question, "category": category},
        created_at=at,
    )


def finished(couple, at: datetime, status: str = Session.Status.FINISHED) -> Session:
    return Session.objects.create(
        couple=couple, kind="hug", status=status, created_at=at, finished_at=at
    )


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


# ---------- Rituals ----------


def test_a_kept_occurrence_counts_once_and_together_when_either_says_so(
    couple, alice, bob, alice_client, now
):
    walk = make_ritual(couple, now=now)
    tuesday = datetime(2026, 11, 10, 18, tzinfo=UTC)
    wednesday = datetime(2026, 11, 11, 18, tzinfo=UTC)
    # both marked Tuesday, only Bob said "together"; Alice alone on Wednesday
    Completion.objects.create(ritual=walk, occurrence_at=tuesday, user=alice, together=False)
    Completion.objects.create(ritual=walk, occurrence_at=tuesday, user=bob, together=True)
    Completion.objects.create(ritual=walk, occurrence_at=wednesday, user=alice, together=False)
    # long before the window: not counted
    Completion.objects.create(
        ritual=walk, occurrence_at=datetime(2026, 1, 5, 18, tzinfo=UTC), user=alice
    )

    html, page = read(alice_client)

    assert nonzero_rows(page, "Evening walk") == {"Week of 9 Nov 2026": ["1", "1", "2"]}
    header = ["Week", "Kept together", "Kept by one of you", "In all"]
    assert page.tables["Evening walk"][0] == header
    assert len(page.tables["Evening walk"]) == 1 + rhythm.WEEKS
    assert row(page, "Evening walk", THIS_WEEK) == ["0", "0", "0"]
    assert "Kept 2 times in these weeks, 1 of them together." in html


def test_weeks_are_the_viewers_own_even_fourteen_hours_ahead(couple, alice, bob, now):
    bob.time_zone = "Pacific/Kiritimati"  # UTC+14
    bob.save()
    walk = make_ritual(couple, now=now)
    # Sunday 8 November, noon UTC: still Sunday in Berlin, Monday 02:00 on Kiritimati
    sunday_noon = datetime(2026, 11, 8, 12, tzinfo=UTC)
    Completion.objects.create(ritual=walk, occurrence_at=sunday_noon, user=alice, together=True)

    _, alices = read(logged_in(alice))
    _, bobs = read(logged_in(bob))

    assert nonzero_rows(alices, "Evening walk") == {"Week of 2 Nov 2026": ["1", "0", "1"]}
    assert nonzero_rows(bobs, "Evening walk") == {"Week of 9 Nov 2026": ["1", "0", "1"]}


def test_weeks_hold_across_both_daylight_saving_changes(couple, alice):
    # Berlin: clocks went back on 26 October 2025 and forward on 29 March 2026.
    # Each pair is the last minutes of a Sunday and the first of the Monday after.
    walk = make_ritual(couple, start_date=date(2025, 1, 1))
    instants = [
        datetime(2025, 10, 26, 22, 30, tzinfo=UTC),  # Sun 23:30 CET
        datetime(2025, 10, 26, 23, 30, tzinfo=UTC),  # Mon 00:30 CET
        datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # Sun 23:30 CEST
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # Mon 00:30 CEST
    ]
    for instant in instants:
        Completion.objects.create(ritual=walk, occurrence_at=instant, user=alice)

    with time_machine.travel(datetime(2026, 4, 15, 12, tzinfo=UTC), tick=False):
        _, page = read(logged_in(alice))

    assert nonzero_rows(page, "Evening walk") == {
        "Week of 20 Oct 2025": ["0", "1", "1"],
        "Week of 27 Oct 2025": ["0", "1", "1"],
        "Week of 23 Mar 2026": ["0", "1", "1"],
        "Week of 30 Mar 2026": ["0", "1", "1"],
    }


def test_rows_are_cut_in_the_windows_zone_even_outside_a_request(couple, alice, now):
    """Outside a request (a shell, a benchmark) the active zone is UTC: the
    window's own zone must still decide the week and the month."""
    far = ZoneInfo("Pacific/Kiritimati")
    window = rhythm.window_for(date(2026, 11, 19), far)
    walk = make_ritual(couple, now=now)
    sunday_noon = datetime(2026, 11, 8, 12, tzinfo=UTC)
    Completion.objects.create(ritual=walk, occurrence_at=sunday_noon, user=alice)
    finished(couple, datetime(2026, 10, 31, 12, tzinfo=UTC))

    assert rhythm.ritual_rows([walk], window) == [
        rhythm.KeptRow(walk.pk, date(2026, 11, 9), kept=1, together=0)
    ]
    assert rhythm.exercise_rows(couple, window) == {date(2026, 11, 1): 1}


def test_paused_rituals_show_only_when_kept_lately(couple, alice, alice_client, now):
    resting = make_ritual(couple, title="Sunday brunch", now=now)
    resting.is_active = False
    resting.save()
    old = make_ritual(couple, title="Morning tea", now=now)
    old.is_active = False
    old.save()
    Completion.objects.create(
        ritual=resting, occurrence_at=datetime(2026, 11, 1, 10, tzinfo=UTC), user=alice
    )

    html, page = read(alice_client)

    assert "Sunday brunch" in page.tables
    assert "Morning tea" not in html


# ---------- Appreciations ----------


def test_appreciations_count_your_own_and_only_what_your_partner_shared(couple, alice, bob, now):
    appreciation(couple, alice, date(2026, 11, 16), 1, Visibility.SHARED)
    appreciation(couple, alice, date(2026, 11, 16), 2, Visibility.PRIVATE, "ALICE-PRIVATE")
    appreciation(couple, bob, date(2026, 11, 17), 1, Visibility.SHARED)
    appreciation(couple, bob, date(2026, 11, 17), 2, Visibility.PRIVATE, "BOB-PRIVATE")
    # Bob is ahead of Alice's clock: his "tomorrow" belongs to this week
    appreciation(couple, bob, date(2026, 11, 19), 1, Visibility.SHARED)
    appreciation(couple, alice, date(2026, 11, 2), 1, Visibility.SHARED)

    alice_html, alices = read(logged_in(alice))
    bob_html, bobs = read(logged_in(bob))

    caption = "Appreciations per week"
    assert alices.tables[caption][0] == [
        "Week",
        "Written by you",
        "Shared with you by Bob",
        "In all",
    ]
    assert nonzero_rows(alices, caption) == {
        "Week of 2 Nov 2026": ["1", "0", "1"],
        THIS_WEEK: ["2", "2", "4"],
    }
    # Bob's own private one counts for him; Alice's private one never does
    assert nonzero_rows(bobs, caption) == {
        "Week of 2 Nov 2026": ["0", "1", "1"],
        THIS_WEEK: ["3", "1", "4"],
    }
    for html in (alice_html, bob_html):
        assert "PRIVATE" not in html
    assert "5 appreciations in these weeks." in alice_html


def test_the_five_a_week_band_is_a_soft_reference(couple, alice, alice_client, now):
    appreciation(couple, alice, date(2026, 11, 16), 1, Visibility.SHARED)

    html, page = read(alice_client)

    # the scale reaches the band even in a quiet stretch, and the band is explained kindly
    assert page.scales[0] == "6"
    assert html.count('class="rhythm-band"') == 2  # in the chart and in its legend
    assert "not a goal, and never a contest between you" in html


# ---------- The daily question ----------


def test_only_days_you_both_answered_count_and_never_a_word_of_them(couple, alice, bob, now):
    both = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 10, 1), date(2026, 10, 2)]
    both.append(date(2026, 10, 3))
    for day in both:
        daily_answer(couple, alice, day, f"ALICE-{day}")
        daily_answer(couple, bob, day, f"BOB-{day}")
    daily_answer(couple, alice, date(2026, 11, 18), "ALICE-TODAY")
    daily_answer(couple, bob, date(2026, 11, 11), "BOB-SEALED")

    html, page = read(logged_in(alice))

    caption = "Days you both answered, per week"
    assert nonzero_rows(page, caption) == {"Week of 28 Sep 2026": ["3"], THIS_WEEK: ["2"]}
    assert page.scales == ["7"]  # out of the seven days of a week
    # today isn't over: the run still counts from yesterday
    assert "You both answered on 5 days in these weeks." in html
    assert "You've answered together 2 days in a row now." in html
    assert "Your longest run here: 3 days." in html
    assert not re.search(r"(ALICE|BOB)-", html)


def test_a_missed_day_is_a_gap_not_a_broken_promise(couple, alice, bob, now):
    daily_answer(couple, alice, date(2026, 11, 2))
    daily_answer(couple, bob, date(2026, 11, 2))

    html, _ = read(logged_in(alice))

    assert "days in a row" not in html
    assert "Days you skip simply don't show; there's nothing to catch up on." in html


def test_conversation_runs_from_known_days():
    window = rhythm.window_for(date(2026, 11, 18), timezone.get_fixed_timezone(0))
    days = {date(2026, 11, 18), date(2026, 11, 17), date(2026, 11, 15), date(2026, 11, 14)}
    talks = rhythm.conversations_by_week(days, window, today=date(2026, 11, 18))
    assert (talks.current_run, talks.longest_run, talks.total) == (2, 2, 4)
    assert talks.weeks[-2:] == [2, 2]


# ---------- Exercises ----------


def test_exercises_count_per_month_in_the_viewers_zone(couple, alice, bob, now):
    bob.time_zone = "America/New_York"
    bob.save()
    # 31 October 23:30 UTC: already November in Berlin, still October in New York
    finished(couple, datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    finished(couple, datetime(2026, 11, 10, 12, tzinfo=UTC))
    finished(couple, datetime(2026, 11, 12, 12, tzinfo=UTC), status=Session.Status.ENDED)
    finished(couple, datetime(2025, 11, 12, 12, tzinfo=UTC))  # before the twelve months

    _, alices = read(logged_in(alice))
    _, bobs = read(logged_in(bob))

    caption = "Exercises finished, per month"
    assert nonzero_rows(alices, caption) == {"November 2026 (this month)": ["2"]}
    assert nonzero_rows(bobs, caption) == {
        "October 2026": ["1"],
        "November 2026 (this month)": ["1"],
    }
    assert len(alices.tables[caption]) == 1 + rhythm.MONTHS
    assert alices.tables[caption][1][0] == "December 2025"


# ---------- Love map ----------


def test_the_love_map_fills_in_by_category(couple, alice, bob, charlie, now):
    by_category: dict[str, list[str]] = {}
    for key, question in love_maps.questions().items():
        by_category.setdefault(question["category"], []).append(key)
    people, values = by_category["people"], by_category["values"]
    long_ago, lately = now - timedelta(days=300), now - timedelta(days=10)
    love_map_rating(couple, alice, people[0], long_ago)
    love_map_rating(couple, bob, people[0], lately)  # explored again: still one question
    love_map_rating(couple, bob, people[1], lately)
    love_map_rating(couple, alice, values[0], lately)
    charlies = Membership.objects.get(user=charlie).couple
    love_map_rating(charlies, charlie, values[1], lately)

    html, page = read(logged_in(alice))

    table = {cells[0]: cells[1:] for cells in page.tables["Love map questions explored"][1:]}
    names = love_maps.categories()
    assert table[names["people"]] == ["1", "1", str(len(people))]
    assert table[names["values"]] == ["0", "1", str(len(values))]
    assert table[names["history"]][:2] == ["0", "0"]
    assert "3 questions explored, 2 of them since 25 May." in html
    # the meters draw the same: solid for earlier, hatched for lately
    drawn = {
        key: [(r["data-series"], r["data-value"]) for r in page.svgs[f"map-{key}"]] for key in names
    }
    assert drawn["people"] == [("0", "1"), ("1", "1")]
    assert drawn["values"] == [("1", "1")]
    assert drawn["history"] == []


# ---------- The drawing says what the table says ----------


def test_every_bar_matches_its_table(couple, alice, bob, alice_client, now):
    walk = make_ritual(couple, now=now)
    for days_ago in range(0, 120, 3):
        Completion.objects.create(
            ritual=walk,
            occurrence_at=now - timedelta(days=days_ago, hours=1),
            user=alice,
            together=days_ago % 2 == 0,
        )
    for days_ago in range(0, 150, 2):
        day = date(2026, 11, 18) - timedelta(days=days_ago)
        appreciation(couple, alice, day, 1, Visibility.SHARED)
        appreciation(couple, bob, day, 1, Visibility.SHARED)
        daily_answer(couple, alice, day)
        daily_answer(couple, bob, day)
    for days_ago in range(0, 300, 9):
        finished(couple, now - timedelta(days=days_ago))

    _, page = read(alice_client)

    by_key = {
        "ritual-" + str(walk.pk): "Evening walk",
        "appreciations": "Appreciations per week",
        "daily": "Days you both answered, per week",
        "exercises": "Exercises finished, per month",
    }
    scales = iter(page.scales)
    checked = 0
    for key, caption in by_key.items():
        top = int(next(scales))
        rows = page.tables[caption][1:]
        drawn = {(int(r["data-bar"]), int(r["data-series"])): r for r in page.svgs[key]}
        assert drawn, key
        for index, cells in enumerate(rows):
            values = [int(cell) for cell in cells[1:]]
            series_values = values[:-1] if len(values) > 1 else values
            for series, value in enumerate(series_values):
                rect = drawn.pop((index, series), None)
                if value == 0:
                    assert rect is None
                    continue
                assert int(rect["data-value"]) == value
                assert float(rect["height"]) == pytest.approx(charts.HEIGHT * value / top, abs=0.01)
                checked += 1
            assert top >= sum(series_values)
        assert not drawn, f"{key}: bars without a row"
    assert checked > 100


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [
        (0, 1, 1),
        (1, 1, 1),
        (5, 5, 1),
        (6, 6, 2),
        (7, 8, 2),
        (11, 15, 5),
        (23, 25, 5),
        (260, 300, 100),
    ],
)
def test_scales_end_on_round_numbers(largest, top, step):
    assert charts.nice_top(largest) == (top, step)


# ---------- Who sees what ----------


def test_an_outsider_sees_only_their_own_quiet_space(couple, alice, bob, charlie, now):
    walk = make_ritual(couple, now=now)
    Completion.objects.create(ritual=walk, occurrence_at=now - timedelta(days=1), user=alice)
    appreciation(couple, alice, date(2026, 11, 17), 1, Visibility.SHARED)
    _, alices = read(logged_in(alice))
    assert "Evening walk" in alices.tables

    html, page = read(logged_in(charlie))

    assert page.tables == {}
    assert "Evening walk" not in html
    assert not re.search(r"\b(Alice|Bob)\b", re.sub(r"[A-Za-z0-9_-]{20,}", "", html))
    assert "No rituals yet." in html


def test_someone_without_a_space_is_sent_to_start_one(db):
    response = logged_in(UserFactory()).get(reverse("rhythm"))
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_a_former_partners_entries_stop_counting(couple, alice, bob, now):
    appreciation(couple, bob, date(2026, 11, 17), 1, Visibility.SHARED)
    _, before = read(logged_in(alice))
    assert nonzero_rows(before, "Appreciations per week") == {THIS_WEEK: ["0", "1", "1"]}

    services.leave_couple(bob)

    html, _ = read(logged_in(alice))
    assert "No appreciations in these weeks yet." in html


# ---------- Empty and solo spaces ----------


def test_an_empty_shared_space_gets_kind_words_everywhere(couple, alice_client, now):
    html, page = read(alice_client)

    assert page.tables == {}
    for words in (
        "No rituals yet.",
        "No appreciations in these weeks yet.",
        "No days yet when you both answered.",
        "No exercises finished in the last 12 months.",
        "Nothing explored yet.",
    ):
        assert words in html
    assert "fail" not in html.lower()


def test_a_solo_space_shows_its_own_weeks(alice, now):
    couple = services.create_space(alice)
    appreciation(couple, alice, date(2026, 11, 17), 1, Visibility.PRIVATE)

    html, page = read(logged_in(alice))

    assert page.tables["Appreciations per week"][0] == ["Week", "Written by you"]
    assert nonzero_rows(page, "Appreciations per week") == {THIS_WEEK: ["1"]}
    assert "Once your partner joins your space" in html


# ---------- Cost ----------


def grow_history(couple, alice, bob, weeks: int, now: datetime) -> None:
    """``weeks`` weeks back from now, each with a bit of everything."""
    walk = make_ritual(couple, start_date=date(2010, 1, 4), now=now)
    start = timezone.localdate(now, alice.zone)
    completions, entries, sessions = [], [], []
    questions = list(love_maps.questions())
    for week in range(weeks):
        instant = now - timedelta(weeks=week, hours=2)
        day = start - timedelta(weeks=week)
        completions += [
            Completion(ritual=walk, occurrence_at=instant, user=alice, together=True),
            Completion(ritual=walk, occurrence_at=instant, user=bob, together=True),
            Completion(ritual=walk, occurrence_at=instant - timedelta(days=1), user=bob),
        ]
        key = daily.key_for(day, daily.question_for(couple, day))
        entries += [
            Entry(couple=couple, author=alice, prompt_key=key, visibility=Visibility.SEALED),
            Entry(couple=couple, author=bob, prompt_key=key, visibility=Visibility.SEALED),
        ]
        entries += [
            Entry(
                couple=couple,
                author=author,
                prompt_key=f"appreciation:{day.isoformat()}:{slot}",
                visibility=visibility,
            )
            for slot, (author, visibility) in enumerate(
                [(alice, "shared"), (alice, "private"), (bob, "shared"), (bob, "private")],
                start=1,
            )
        ]
        sessions.append(
            Session(
                couple=couple,
                kind="love_maps",
                status=Session.Status.FINISHED,
                created_at=instant,
                finished_at=instant,
            )
        )
    Completion.objects.bulk_create(completions)
    Session.objects.bulk_create(sessions)
    saved = Session.objects.filter(couple=couple, kind="love_maps").order_by("pk")
    entries += [
        Entry(
            couple=couple,
            session=session,
            author=alice,
            prompt_key="love_maps:reveal-1-rating",
            data={
                "rating": "close",
                "question": questions[i % len(questions)],
                "category": love_maps.questions()[questions[i % len(questions)]]["category"],
            },
            created_at=session.finished_at,
        )
        for i, session in enumerate(saved)
    ]
    Entry.objects.bulk_create(entries)
    forget_cached_pages()


@pytest.mark.parametrize("weeks", [1, 500])
def test_the_page_costs_the_same_after_one_week_or_ten_years(
    couple, alice, bob, alice_client, django_assert_num_queries, weeks, now
):
    grow_history(couple, alice, bob, weeks, now)
    assert Completion.objects.count() == 3 * weeks

    with django_assert_num_queries(PAIRED_QUERIES):
        html, page = read(alice_client)

    kept = nonzero_rows(page, "Evening walk")
    assert sum(int(cells[-1]) for cells in kept.values()) == 2 * min(weeks, rhythm.WEEKS)
    explored = "question" if weeks == 1 else "questions"
    assert f"{min(weeks, len(love_maps.questions()))} {explored} explored" in html


def test_a_solo_page_costs_one_query_less(alice, django_assert_num_queries, now):
    make_ritual(services.create_space(alice), now=now)
    client = logged_in(alice)
    with django_assert_num_queries(SOLO_QUERIES):
        html, _ = read(client)
    assert "Evening walk" in html


# ---------- Colours ----------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    high, low = sorted([_luminance(one), _luminance(other)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def palettes() -> dict[str, dict[str, str]]:
    css = (ROOT / "static/css/rhythm.css").read_text()
    light = re.search(r"^\.rhythm \{(.*?)\}", css, re.S | re.M).group(1)
    dark = re.search(r"prefers-color-scheme: dark\)\s*\{\s*\.rhythm \{(.*?)\}", css, re.S).group(1)
    return {
        name: dict(re.findall(r"--rhythm-([a-z]+):\s*(#[0-9a-fA-F]{6})", block))
        for name, block in (("light", light), ("dark", dark))
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colours_hold_in_both_schemes(scheme):
    colours = palettes()[scheme]
    assert set(colours) >= {"surface", "ink", "muted", "link", "a", "b", "edge", "band"}
    for text in ("ink", "muted", "link"):
        assert contrast(colours[text], colours["surface"]) >= 4.5, text
    for mark in ("a", "b", "edge"):
        assert contrast(colours[mark], colours["surface"]) >= 3, mark
        assert contrast(colours[mark], colours["band"]) >= 3, f"{mark} on the band"


# ---------- The demo ----------


def test_the_demo_couple_has_months_worth_opening(db, settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    counts = (Completion.objects.count(), Entry.objects.count(), Session.objects.count())
    call_command("load_demo", stdout=StringIO())
    assert (Completion.objects.count(), Entry.objects.count(), Session.objects.count()) == counts

    sam = Membership.objects.get(user__email="sam@demo.tend").user
    html, page = read(logged_in(sam))
    weeks_kept = {
        week
        for caption, rows in page.tables.items()
        if caption not in {"Exercises finished, per month", "Love map questions explored"}
        for week, *cells in rows[1:]
        if cells[-1] != "0"
    }
    assert len(weeks_kept) >= 20
    assert len(nonzero_rows(page, "Exercises finished, per month")) >= 5
    assert "questions explored" in html
    assert "You both answered on" in html
