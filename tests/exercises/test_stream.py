"""Server-sent events of a live session and of the waiting card, from a real uvicorn.

The server runs in its own process against the test database (PostgreSQL,
where moves arrive through LISTEN/NOTIFY, or the SQLite file, where streams
look again every second); this process makes the moves and reads the
streams. Its heartbeat is 30 s, so a stream that reacts within a few seconds
reacted to the change, not to a heartbeat.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
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


def browser_of(server: AsgiServer, user) -> Browser:
    browser = Browser(server.port)
    sign_in(browser, user)
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
    said, clock = event.data.split(" ")
    assert (event.name, said, event.id) == ("tend:changed", str(version), str(version))
    assert abs(int(clock) / 1000 - time.time()) < 5  # the server's clock, in ms
    return event


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


def test_a_move_arrives_as_its_version_only(server, couple, alice, bob):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    bobs = stream(server, browser_of(server, bob), session, seen=session.version)
    assert bobs.next(WITHIN).name == ""
    session = act(session, 1, "next")
    expect_changed(bobs, session.version)
    session = act(session, 1, "ready")
    expect_changed(bobs, session.version)
    bobs.close()


def test_a_sealed_answer_never_travels_early(server, couple, alice, bob):
    session = act(engine.start(couple, alice, 1, "love_maps", "two_devices", {}), 1, "next")
    bob_browser = browser_of(server, bob)
    bobs = stream(server, bob_browser, session, seen=session.version)
    before = session.version
    session = act(session, 1, "submit", text=SECRET)
    event = expect_changed(bobs, session.version)
    assert SECRET not in event.data + bobs.text
    # What the event makes the page fetch: the poll, which keeps it sealed.
    poll = bob_browser.get(reverse("exercise_poll", args=[session.pk]) + f"?v={before}")
    assert poll.status == 200 and 'id="stage"' in poll.text
    assert SECRET not in poll.text
    session = act(session, 2, "submit", text="your aunt?")
    expect_changed(bobs, session.version)
    opened = bob_browser.get(reverse("exercise_poll", args=[session.pk]) + f"?v={before}")
    assert SECRET in opened.text  # both answered: now it opens
    bobs.close()


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
