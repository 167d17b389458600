"""Server-sent events of a live session and of the waiting card, from a real uvicorn.

The server runs in its own process against the test database (PostgreSQL,
where moves arrive through LISTEN/NOTIFY, or the SQLite file, where streams
look again every second); this process makes the moves and reads the
streams. Its heartbeat is 30 s, so a stream that reacts within a few seconds
reacted to the change, not to a heartbeat. Each browser holds a CSRF cookie,
as a browser that has loaded a page does: a partner's move then brings the
new stage in the event.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from couples import services
from exercises import engine
from exercises.models import Session
from tests.conftest import logged_in
from tests.faults.conftest import database_url
from tests.faults.web import Browser, sign_in
from tests.streaming import (
    AsgiServer,
    EventStream,
    asgi_environment,
    wait_for_its_connections_to_close,
)

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 5.0  # seconds: the change, not a heartbeat (30 s), ended or moved the stream
SECRET = "my aunt Ruth"


def _server(tmp_path_factory, **extra: str):
    env = asgi_environment(database_url(), os.environ.get("REDIS_URL", ""), **extra)
    return AsgiServer(env, tmp_path_factory.mktemp("asgi")).start()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        running = _server(tmp_path_factory, LIVE_HEARTBEAT_SECONDS="30")
    try:
        yield running
    finally:
        running.stop()
        with django_db_blocker.unblock():
            wait_for_its_connections_to_close()


CSRF = "streamtestcsrfsecret0123456789ab"  # 32 characters, as Django's secrets are


def browser_of(server: AsgiServer, user, page_loaded: bool = True) -> Browser:
    browser = Browser(server.port)
    sign_in(browser, user)
    if page_loaded:  # the page set its CSRF cookie, which the stage's forms carry
        browser.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    return browser


def stream(server, browser: Browser, session: Session | None = None, seen="", **kw):
    if session is None:
        path = reverse("exercise_waiting_stream") + f"?sig={seen}"
    else:
        path = reverse("exercise_stream", args=[session.pk]) + f"?v={seen}"
    return EventStream(server.port, path, dict(browser.cookies), **kw)


def act(session: Session, seat: int, action: str, **data) -> Session:
    return engine.act(session.pk, session.couple_id, seat, action, data)


def expect_changed(events: EventStream, version: int | str):
    event = events.next_event(WITHIN)
    assert event is not None, "no event"
    head, _, _ = event.data.partition("\n")
    said, clock = head.split(" ")
    assert (event.name, said, event.id) == ("tend:changed", str(version), str(version))
    assert abs(int(clock) / 1000 - time.time()) < 5  # the server's clock, in ms
    return event


def stage_of(event) -> str:
    """The stage an event carries ("" if none): the lines after its first."""
    return event.data.partition("\n")[2]


def own_move_stage(event) -> str:
    """The stage of an event for the viewer's own move: none with PostgreSQL,
    whose announcements say whose move it was. Without LISTEN/NOTIFY (SQLite)
    streams are woken by a timer that can't tell, so they draw the stage
    (their own viewer's, which every other assertion still checks) and the
    page swaps in what it already shows; "" is returned then."""
    stage = stage_of(event)
    if connection.vendor == "postgresql":
        return stage
    assert stage == "" or '<section id="stage"' in stage
    return ""


def test_the_members_stream_and_an_outsider_or_a_visitor_gets_404(server, couple, alice, charlie):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    mine = stream(server, browser_of(server, alice), session, seen=session.version)
    assert mine.status == 200
    assert mine.headers["content-type"].startswith("text/event-stream")
    assert mine.headers["x-accel-buffering"] == "no"
    assert "no-store" in mine.headers["cache-control"]
    assert mine.next(WITHIN).name == ""  # the opening comment
    mine.close()
    waiting = stream(server, browser_of(server, alice), seen=session.pk)
    assert waiting.status == 200 and waiting.headers["content-type"] == "text/event-stream"
    waiting.close()

    outsider = browser_of(server, charlie)
    refused = stream(server, outsider, session, seen=0)
    assert refused.status == 404 and "event:" not in refused.body
    # Charlie's waiting card follows his own space, where nothing is going on.
    his = stream(server, outsider, seen=0)
    assert his.status == 200 and his.next(WITHIN).name == ""
    assert his.next_event(1.5) is None
    his.close()
    visitor = Browser(server.port)
    for anonymous in (stream(server, visitor, session), stream(server, visitor)):
        assert anonymous.status == 404


def test_a_partners_move_brings_the_stage_and_ones_own_move_only_its_version(
    server, couple, alice, bob
):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    bob_browser = browser_of(server, bob)
    bobs = stream(server, bob_browser, session, seen=session.version)
    alices = stream(server, browser_of(server, alice), session, seen=session.version)
    assert bobs.next(WITHIN).name == "" and alices.next(WITHIN).name == ""
    before = session.version
    session = act(session, 1, "next")
    stage = stage_of(expect_changed(bobs, session.version))
    # Bob's page shows Alice's move without asking: the stage the poll would draw for him.
    poll = bob_browser.get(reverse("exercise_poll", args=[session.pk]) + f"?v={before}")
    assert '<section id="stage"' in stage
    assert f'data-version="{session.version}"' in stage
    for same in ("Eyes on each other", 'value="ready"', f'name="step" value="{session.step}"'):
        assert same in stage and same in poll.text
    # Alice's page has the stage from her own request: her event says the version only.
    assert own_move_stage(expect_changed(alices, session.version)) == ""
    session = act(session, 2, "ready")
    assert stage_of(expect_changed(alices, session.version)) != ""
    assert own_move_stage(expect_changed(bobs, session.version)) == ""
    bobs.close()
    alices.close()


def test_ones_own_move_that_ends_the_exercise_ends_ones_stream(server, couple, alice):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    alices = stream(server, browser_of(server, alice), session, seen=session.version)
    assert alices.next(WITHIN).name == ""
    session = act(session, 1, "next")
    assert own_move_stage(expect_changed(alices, session.version)) == ""  # passed on, unread
    session = act(session, 1, "end")
    told = [(e.name, e.data.split(" ")[0]) for e in alices.wait_closed(WITHIN) if e.name]
    assert alices.ended
    assert told == [("tend:changed", str(session.version)), ("tend:end", "finished")]


def test_without_a_csrf_cookie_the_page_fetches_the_stage(server, couple, alice, bob):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    # A stage's forms need the page's CSRF token; a stream can't set a cookie.
    bobs = stream(server, browser_of(server, bob, page_loaded=False), session, seen=session.version)
    assert bobs.next(WITHIN).name == ""
    session = act(session, 1, "next")
    assert stage_of(expect_changed(bobs, session.version)) == ""
    bobs.close()


def test_a_sealed_answer_never_travels_early(server, couple, alice, bob, charlie):
    session = act(engine.start(couple, alice, 1, "love_maps", "two_devices", {}), 1, "next")
    bob_browser = browser_of(server, bob)
    bobs = stream(server, bob_browser, session, seen=session.version)
    alices = stream(server, browser_of(server, alice), session, seen=session.version)
    # Charlie, an outsider with a page of his own open, gets no stream of theirs at all.
    outsider = stream(server, browser_of(server, charlie), session, seen=session.version)
    assert outsider.status == 404 and "event:" not in outsider.body
    assert SECRET not in outsider.body
    assert bobs.next(WITHIN).name == "" and alices.next(WITHIN).name == ""
    before = session.version
    session = act(session, 1, "submit", text=SECRET)
    event = expect_changed(bobs, session.version)
    # Alice's move: Bob's event carries the stage as Bob may see it (his turn to
    # guess), with her answer still sealed.
    assert 'id="stage"' in stage_of(event) and "Your guess" in stage_of(event)
    assert SECRET not in event.data + bobs.text
    # What a page without the stage fetches: the poll, which keeps it sealed too.
    poll = bob_browser.get(reverse("exercise_poll", args=[session.pk]) + f"?v={before}")
    assert poll.status == 200 and 'id="stage"' in poll.text
    assert SECRET not in poll.text
    assert own_move_stage(expect_changed(alices, session.version)) == ""  # her own move
    session = act(session, 2, "submit", text="your aunt?")
    # Bob's own move: no stage for him; Alice's event brings both answers, now open.
    assert own_move_stage(expect_changed(bobs, session.version)) == ""
    opened_for_alice = stage_of(expect_changed(alices, session.version))
    assert SECRET in opened_for_alice and "your aunt?" in opened_for_alice
    opened = bob_browser.get(reverse("exercise_poll", args=[session.pk]) + f"?v={before}")
    assert SECRET in opened.text  # both answered: now it opens
    bobs.close()
    alices.close()


def test_a_password_change_ends_the_stream_at_once(server, couple, alice, bob):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    bobs = stream(server, browser_of(server, bob), session, seen=session.version)
    assert bobs.next(WITHIN).name == ""
    waiting = stream(server, browser_of(server, bob), seen=session.pk)
    bob.set_password("a-brand-new-passphrase")
    bob.save()
    for events in (bobs, waiting):
        seen = events.wait_closed(WITHIN)
        assert events.ended, "the stream stayed open"
        assert [(e.name, e.data) for e in seen if e.name] == [("tend:end", "gone")]


def test_leaving_ends_the_leavers_stream_and_shows_the_end_to_the_partner(
    server, couple, alice, bob
):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    bobs = stream(server, browser_of(server, bob), session, seen=session.version)
    alices = stream(server, browser_of(server, alice), session, seen=session.version)
    assert bobs.next(WITHIN).name == "" and alices.next(WITHIN).name == ""
    services.leave_couple(bob)
    gone = bobs.wait_closed(WITHIN)
    assert bobs.ended and [(e.name, e.data) for e in gone if e.name] == [("tend:end", "gone")]
    session.refresh_from_db()
    assert session.status == Session.Status.ENDED
    told = [(e.name, e.data) for e in alices.wait_closed(WITHIN) if e.name]
    assert alices.ended
    assert [(name, data.split(" ")[0]) for name, data in told] == [
        ("tend:changed", str(session.version)),
        ("tend:end", "finished"),
    ]


def test_a_reconnect_starts_from_the_version_it_brings(server, couple, alice, bob):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    first = session.version
    session = act(act(session, 1, "next"), 1, "ready")
    browser = browser_of(server, bob)
    # A page still showing the first version hears at once that it is behind.
    behind = stream(server, browser, session, seen=first)
    expect_changed(behind, session.version)
    behind.close()
    # Last-Event-ID (a reconnect) wins over the page's ?v=: nothing new, so nothing said.
    current = stream(server, browser, session, seen=first, last_event_id=str(session.version))
    assert current.next(WITHIN).name == ""  # the opening comment
    assert current.next_event(1.5) is None
    session = act(session, 2, "ready")
    expect_changed(current, session.version)
    current.close()


def test_the_waiting_card_hears_an_exercise_start_and_end(server, couple, alice, bob):
    bobs = stream(server, browser_of(server, bob), seen=0)
    assert bobs.next(WITHIN).name == ""
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    expect_changed(bobs, session.pk)
    act(session, 1, "end")
    expect_changed(bobs, 0)
    bobs.close()


def test_an_idle_stream_sends_heartbeats(django_db_blocker, tmp_path_factory, couple, alice):
    with django_db_blocker.unblock():
        quick = _server(tmp_path_factory, LIVE_HEARTBEAT_SECONDS="1")
    try:
        session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
        events = stream(quick, browser_of(quick, alice), session, seen=session.version)
        comments = [events.next(3.0) for _ in range(4)]
        assert all(event is not None and event.name == "" for event in comments), comments
        beats = [e.at for e in comments[1:]]  # after the opening comment
        gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
        assert all(0.5 < gap < 2.5 for gap in gaps), gaps
        events.close()
    finally:
        quick.stop()
        wait_for_its_connections_to_close()


def test_without_an_asgi_server_the_stream_says_204_so_the_page_polls(couple, alice, charlie):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    url = reverse("exercise_stream", args=[session.pk])
    assert logged_in(alice).get(url, {"v": session.version}).status_code == 204
    assert logged_in(charlie).get(url).status_code == 404
    waiting = reverse("exercise_waiting_stream")
    assert logged_in(alice).get(waiting).status_code == 204
