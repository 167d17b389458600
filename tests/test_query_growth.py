"""Every page costs the same number of queries after one day together as after years.

Each GET page of the app is requested by a partner of a couple with one item
of every kind of history (kept rituals and their reminders, finished
exercises of every kind with their entries, daily answers, appreciations,
self-checks, our story, invitations), then again after that history has grown
to 500 of each.
The query count must not change: a count that grows with history is an N+1
waiting for a couple who has used Tend for a year.

The list of pages is checked against the URL resolver: a new route must be
listed here as a page, or as a POST-only or signed-link route, or
``test_every_get_page_is_measured`` fails.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from couples.models import Invitation
from exercises import daily, engine
from exercises.engine import REGISTRY, prompt_key
from exercises.journal import APPRECIATION, SELF_CHECK, STORY, prompts
from exercises.kinds import love_maps
from exercises.models import Entry, Session, Visibility
from home.export import build, request_export
from rituals.models import Completion, ReminderDelivery
from tests.conftest import logged_in
from tests.exports import prepared_export
from tests.factories import make_ritual
from tests.test_access_matrix import MATRIX, our_route_names

SMALL, LARGE = 1, 500


@dataclass(frozen=True)
class Page:
    """How to reach a GET page; ``queries`` are variants (e.g. an older page of history)."""

    # "ritual" | "session" | "finished" | "token" | "export": which object the URL names
    args: str = ""
    queries: tuple[str, ...] = ("",)
    status: int = 200


PAGES: dict[str, Page] = {
    "dashboard": Page(),
    "leave": Page(),
    "join": Page(),
    # The member opening their own invitation is told so.
    "invitation": Page(args="token", status=409),
    "profile": Page(),
    "export": Page(),
    "export_download": Page(args="export"),
    "delete_account": Page(),
    "rituals": Page(),
    "ritual_new": Page(),
    "ritual_preview": Page(queries=("", "?frequency=daily&start_time=19:00")),
    "ritual_week": Page(queries=("", "?start={week_ago}")),
    "ritual_detail": Page(args="ritual", queries=("", "?before={month_ago_ts}")),
    "ritual_edit": Page(args="ritual"),
    "ritual_delete": Page(args="ritual"),
    "calendar_settings": Page(),
    "exercises": Page(),
    "exercise_session": Page(args="session"),
    # Unchanged: 204 from one query; changed: the stage.
    "exercise_poll": Page(args="session", queries=("?v={version}", "?v=0")),
    # Streams answer the test client (WSGI) 204, "poll instead", after checking the viewer.
    "exercise_stream": Page(args="session", queries=("?v={version}",), status=204),
    "exercise_waiting_stream": Page(status=204),
    "exercise_summary": Page(args="finished"),
    "exercise_history": Page(),
    "exercise_waiting": Page(queries=("?sig={session_id}", "?sig=0")),
    "daily_question": Page(),
    "love_map": Page(),
    "weekly_checkins": Page(),
    "appreciation": Page(),
    "love_quiz": Page(),
    "self_check": Page(),
    "get_help": Page(),
    "our_story": Page(queries=("", "?prompt={story_prompt}")),
    "rhythm": Page(),
}
# Routes that are not pages a partner opens: POST-only actions, and links
# that carry their own signature instead of a log-in.
POST_ONLY = {
    "create_space",
    "invite",
    "renew_invitation",
    "revoke_invitation",
    "ritual_add_template",
    "ritual_pause",
    "ritual_nudges",
    "ritual_keep",
    "ritual_unkeep",
    "calendar_regenerate",
    "exercise_start",
    "exercise_act",
    "export_prepare",
}
SIGNED_LINKS = {"calendar_feed", "ritual_done_link", "ritual_mute_link", "unsubscribe"}
STATUS_OF = {"exercise_poll?v={version}": 204, "exercise_waiting?sig={session_id}": 204}


def test_every_get_page_is_measured():
    listed = set(PAGES) | POST_ONLY | SIGNED_LINKS
    assert our_route_names() == listed, (
        "a route is missing here (add it to PAGES, POST_ONLY or SIGNED_LINKS): "
        f"{sorted(our_route_names() - listed)}; gone: {sorted(listed - our_route_names())}"
    )
    # and the access matrix agrees on which routes are GET pages
    get_routes = {
        name for name, route in MATRIX.items() if route.method == "get" and not route.signed
    }
    assert get_routes == set(PAGES)


# --- a couple's history, grown on demand -------------------------------------


def write_steps(session: Session) -> list[tuple[str, int, str, dict]]:
    """The entries a finished run of this session writes: (key, seat, visibility, data)."""
    found = []
    for step in engine.flow_for(session).steps(session):
        if step.kind == "write":
            found += [
                (prompt_key(session, step), seat, step.visibility, {}) for seat in step.writers
            ]
        elif step.kind == "turns" and step.note:
            found += [(prompt_key(session, step), seat, Visibility.PRIVATE, {}) for seat in (1, 2)]
        elif step.kind == "reveal" and step.rater is not None:
            data = {"rating": "close", **step.extra}
            found.append((f"{session.kind}:{step.key}-rating", step.rater, Visibility.SHARED, data))
    return found


class History:
    """One couple's history; ``grow_to(n)`` adds items until there are ``n`` of each kind."""

    def __init__(self, couple, alice, bob) -> None:
        self.couple, self.alice, self.bob = couple, alice, bob
        self.size = 0
        now = timezone.now()
        # Started long ago, so 500 past occurrences exist.
        self.ritual = make_ritual(couple, start_date=date(2024, 1, 1))
        make_ritual(couple, title="Sunday check-in", rrule="FREQ=WEEKLY;BYDAY=SU")
        self.occurrences = self.ritual.schedule.previous_before(now, LARGE)
        self.today = daily.couple_today(couple)
        self.local_today = timezone.localdate(now, alice.zone)
        self.invitation, self.token, _ = Invitation.issue(couple, alice)
        self.kinds = sorted(REGISTRY)
        self.finished: Session | None = None
        self.live = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
        self.stories = sorted(prompts())
        self.love_map_question = next(iter(love_maps.questions()))

    def grow_to(self, size: int) -> None:
        items = range(self.size, size)
        self.size = size
        alice, bob, couple = self.alice, self.bob, self.couple
        # rituals: kept occurrences, and the reminders sent for them
        completions, deliveries = [], []
        for i in items:
            occurrence = self.occurrences[i]
            completions.append(
                Completion(
                    ritual=self.ritual, occurrence_at=occurrence, user=alice, together=bool(i % 2)
                )
            )
            if i % 2 == 0:
                completions.append(
                    Completion(
                        ritual=self.ritual, occurrence_at=occurrence, user=bob, together=True
                    )
                )
            deliveries += [
                ReminderDelivery(
                    ritual=self.ritual,
                    occurrence_at=occurrence,
                    recipient=user,
                    status=ReminderDelivery.Status.SENT,
                    attempts=1,
                    sent_at=occurrence,
                )
                for user in (alice, bob)
            ]
        Completion.objects.bulk_create(completions)
        ReminderDelivery.objects.bulk_create(deliveries)
        # finished exercises, ``size`` of every kind, with their entries
        sessions = []
        for i in items:
            for kind in self.kinds:
                session = Session(
                    couple=couple,
                    kind=kind,
                    started_by=alice if i % 2 else bob,
                    status=Session.Status.FINISHED,
                    state={"first_seat": 1},
                    created_at=timezone.now() - timedelta(days=i + 1),
                    finished_at=timezone.now() - timedelta(days=i + 1) + timedelta(minutes=20),
                )
                if kind == "love_maps":  # its setup picks a question with a query
                    session.state["rounds"] = [{"question": self.love_map_question, "subject": 1}]
                else:
                    engine.flow_for(session).setup(session, {})
                session.step = len(engine.flow_for(session).steps(session))
                sessions.append(session)
        Session.objects.bulk_create(sessions)
        if self.finished is None:
            self.finished = Session.objects.filter(couple=couple, status="finished").first()
        seats = {1: alice, 2: bob}
        entries = []
        for session in sessions:
            for key, seat, visibility, data in write_steps(session)[:3]:
                entries.append(
                    Entry(
                        couple=couple,
                        session=session,
                        author=seats[seat],
                        prompt_key=key,
                        visibility=visibility,
                        text="We talked.",
                        data=data,
                    )
                )
        if size == LARGE:  # the summarized exercise: every entry it can have
            have = set(
                Entry.objects.filter(session=self.finished).values_list("prompt_key", "author")
            ) | {(e.prompt_key, e.author_id) for e in entries if e.session_id == self.finished.pk}
            entries += [
                Entry(
                    couple=couple,
                    session=self.finished,
                    author=seats[seat],
                    prompt_key=key,
                    visibility=visibility,
                    text="More.",
                    data=data,
                )
                for key, seat, visibility, data in write_steps(self.finished)
                if (key, seats[seat].pk) not in have
            ]
        # journal entries outside sessions: daily answers, appreciations, self-checks, story
        for i in items:
            day = self.today - timedelta(days=i + 1)
            key = daily.key_for(day, daily.question_for(couple, day))
            entries.append(
                Entry(couple=couple, author=alice, prompt_key=key, visibility=Visibility.SEALED)
            )
            if i % 2 == 0:
                entries.append(
                    Entry(couple=couple, author=bob, prompt_key=key, visibility=Visibility.SEALED)
                )
            local_day = self.local_today - timedelta(days=i)
            for slot, (author, visibility) in enumerate(
                [(alice, Visibility.SHARED), (alice, Visibility.PRIVATE), (bob, Visibility.SHARED)],
                start=1,
            ):
                entries.append(
                    Entry(
                        couple=couple,
                        author=author,
                        prompt_key=f"{APPRECIATION}{local_day.isoformat()}:{slot}",
                        visibility=visibility,
                        text="Thank you.",
                    )
                )
            entries.append(
                Entry(
                    couple=couple,
                    author=alice,
                    prompt_key=f"{SELF_CHECK}{local_day.isoformat()}",
                    visibility=Visibility.PRIVATE,
                    data={"answers": {}},
                )
            )
            if i < len(self.stories):
                for author in (alice, bob) if i % 2 == 0 else (alice,):
                    entries.append(
                        Entry(
                            couple=couple,
                            author=author,
                            prompt_key=f"{STORY}{self.stories[i]}",
                            visibility=Visibility.SEALED,
                            text="How we met.",
                        )
                    )
        Entry.objects.bulk_create(entries)
        # invitations sent before the partner joined, withdrawn or expired
        Invitation.objects.bulk_create(
            Invitation(
                couple=couple,
                invited_by=alice,
                email=f"old{i}@example.com",
                token_hash=hashlib.sha256(f"token{i}".encode()).hexdigest(),
                code_hash=hashlib.sha256(f"code{i}".encode()).hexdigest(),
                expires_at=timezone.now() - timedelta(days=i),
                revoked_at=timezone.now() - timedelta(days=i) if i % 2 else None,
            )
            for i in items
        )

    def url(self, name: str, page: Page, query: str) -> str:
        args = {
            "": [],
            "ritual": [self.ritual.pk],
            "session": [self.live.pk],
            "finished": [self.finished.pk],
            "token": [self.token],
            "export": [prepared_export(self.alice).token] if page.args == "export" else [],
        }[page.args]
        filled = query.format(
            version=self.live.version,
            session_id=self.live.pk,
            week_ago=(self.local_today - timedelta(days=7)).isoformat(),
            month_ago_ts=int((timezone.now() - timedelta(days=30)).timestamp()),
            story_prompt=self.stories[0],
        )
        return reverse(name, args=args) + filled


def query_counts(client, history: History, name: str) -> dict[str, tuple[int, list[str]]]:
    page = PAGES[name]
    counts = {}
    for query in page.queries:
        url = history.url(name, page, query)
        client.get(url)  # once before measuring: sessions and caches as on any later visit
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        expected = STATUS_OF.get(name + query, page.status)
        assert response.status_code == expected, f"{url}: {response.status_code}"
        counts[query or "(plain)"] = (len(captured), [q["sql"] for q in captured.captured_queries])
    return counts


def repeated(small: list[str], large: list[str]) -> str:
    """The statements the larger history ran more often, for the failure message."""
    extra = Counter(large) - Counter(small)
    return "\n".join(f"  {n}x {sql[:200]}" for sql, n in extra.most_common(3))


def test_query_counts_do_not_grow_with_history(couple, alice, bob, subtests):
    """One history for all pages (built once: it is the slow part), one subtest per page."""
    history = History(couple, alice, bob)
    client = logged_in(alice)
    history.grow_to(SMALL)
    small = {name: query_counts(client, history, name) for name in sorted(PAGES)}
    history.grow_to(LARGE)
    assert Completion.objects.filter(ritual=history.ritual).count() >= LARGE
    for name in sorted(PAGES):
        with subtests.test(page=name):
            large = query_counts(client, history, name)
            for variant, (count, statements) in small[name].items():
                large_count, large_statements = large[variant]
                assert large_count == count, (
                    f"{name} {variant}: {count} queries with {SMALL} item of history, "
                    f"{large_count} with {LARGE}; more often:\n"
                    f"{repeated(statements, large_statements)}"
                )


def test_building_an_export_costs_the_same_queries_after_years(couple, alice, bob):
    """The export is built by a worker, not a page, but the same rule holds:
    its cost in queries is per section, not per row."""
    history = History(couple, alice, bob)
    counts = []
    for size in (SMALL, LARGE):
        history.grow_to(size)
        export = request_export(alice)
        with CaptureQueriesContext(connection) as captured:
            assert build(export.pk, str(export.token)) == "ready"
        counts.append(len(captured))
    export.refresh_from_db()
    assert export.payload.count('"written_at"') > LARGE  # it did read the grown history
    assert counts[0] == counts[1], f"{counts[0]} queries with {SMALL}, {counts[1]} with {LARGE}"


def test_the_history_is_there(couple, alice, bob):
    """The pages above really see the grown history (a guard against measuring nothing)."""
    history = History(couple, alice, bob)
    history.grow_to(LARGE)
    client = logged_in(alice)
    assert (
        b"We talked." in client.get(reverse("exercise_summary", args=[history.finished.pk])).content
    )
    assert Session.objects.filter(couple=couple, status="finished").count() == LARGE * len(REGISTRY)
    assert (
        Entry.objects.filter(couple=couple, session=None, prompt_key__startswith="daily:").count()
        > LARGE
    )
    assert Invitation.objects.filter(couple=couple).count() == LARGE + 1
    page = client.get(reverse("ritual_detail", args=[history.ritual.pk])).content.decode()
    assert "Kept" in page
