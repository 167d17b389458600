"""Live streams under faults: both partners' screens end up showing the same, latest move.

A real uvicorn (``tests/streaming.py``) streams to two readers, Alice's page
and Bob's; this process makes the moves. The server is restarted mid-session,
its LISTEN connection is cut from the database side, a change goes out with
no announcement at all (a lost NOTIFY), Redis stops. Each time both streams
must report the session's current version within one reconnect (or sooner),
never skipping a move. The heartbeat is 30 s unless a test says otherwise, so
a stream that catches up within seconds did so because of the design, not
because of a heartbeat.
"""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from django.db.models import F
from django.urls import reverse

from exercises import engine
from exercises.models import Session
from tests.factories import UserFactory, make_couple
from tests.faults.conftest import database_url, wait_until
from tests.faults.web import Browser, sign_in
from tests.streaming import (
    AsgiServer,
    EventStream,
    asgi_environment,
    wait_for_its_connections_to_close,
)

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 5.0


@pytest.fixture
def pair():
    alice = UserFactory(display_name="Alice")
    bob = UserFactory(display_name="Bob")
    couple = make_couple(alice, bob)
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    return alice, bob, session


@pytest.fixture
def servers(fault_dir):
    started: list[AsgiServer] = []

    def start(database: str, redis_url: str = "", port: int | None = None, **extra):
        env = asgi_environment(database, redis_url, **{"LIVE_HEARTBEAT_SECONDS": "30", **extra})
        server = AsgiServer(env, fault_dir, port=port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    wait_for_its_connections_to_close()


def cookies_of(server: AsgiServer, user) -> dict[str, str]:
    browser = Browser(server.port)
    sign_in(browser, user)
    return browser.cookies


def open_stream(server, cookies, session: Session, last_event_id: str | None = None):
    path = reverse("exercise_stream", args=[session.pk]) + f"?v={session.version}"
    stream = EventStream(server.port, path, cookies, last_event_id=last_event_id)
    assert stream.status == 200, stream.body
    assert stream.next(WITHIN).name == ""  # the opening comment
    return stream


def act(session: Session, seat: int, action: str) -> Session:
    return engine.act(session.pk, session.couple_id, seat, action, {})


def caught_up(stream: EventStream, version: int, timeout: float = WITHIN) -> float:
    """Read events until the stream reports ``version``; the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        event = stream.next_event(deadline - time.monotonic())
        if event is None:
            break
        assert event.name == "tend:changed", event
        said = int(event.data.split(" ")[0])
        assert said <= version, "a version from the future"
        if said == version:
            return time.monotonic() - started
    raise AssertionError(f"the stream never reported version {version} (ended: {stream.ended})")


def test_a_restarted_server_loses_no_move(servers, pair):
    alice, bob, session = pair
    server = servers(database_url(), os.environ.get("REDIS_URL", ""))
    cookies = {who: cookies_of(server, who) for who in (alice, bob)}
    streams = {who: open_stream(server, cookies[who], session) for who in (alice, bob)}
    seen = str(session.version)

    server.stop()
    for stream in streams.values():
        events = stream.wait_closed(WITHIN)
        assert stream.ended
        # Cut, not ended: no `tend:end`, so the browser reconnects.
        assert not [event for event in events if event.name == "tend:end"]
    # Two moves while nobody is listening.
    session = act(act(session, 1, "next"), 1, "ready")

    restarted = servers(database_url(), os.environ.get("REDIS_URL", ""), port=server.port)
    # Each page reconnects with the last id it saw and hears at once what it missed.
    again = {
        who: open_stream(restarted, cookies[who], session, last_event_id=seen) for who in streams
    }
    for stream in again.values():
        caught_up(stream, session.version)
    session = act(session, 2, "ready")
    for stream in again.values():
        caught_up(stream, session.version)
        stream.close()


def test_a_dropped_notifier_reconnects_and_misses_nothing(servers, private_postgres):
    alice, bob = UserFactory(display_name="Alice"), UserFactory(display_name="Bob")
    session = engine.start(make_couple(alice, bob), alice, 1, "eye_gazing", "two_devices", {})
    server = servers(private_postgres.url)
    streams = [open_stream(server, cookies_of(server, who), session) for who in (alice, bob)]
    with psycopg.connect(private_postgres.url, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'tend-live-listen'"
        ).fetchall()
        assert cut == [(True,)], "one LISTEN connection per server process"
        # A move at once, very likely before the server is listening again: its
        # NOTIFY goes to nobody.
        session = act(session, 1, "next")
        for stream in streams:
            took = caught_up(stream, session.version)
            print(f"\nafter the notifier was cut, a stream caught up in {took * 1000:.0f} ms")
        assert not any(stream.ended for stream in streams), "no reconnect was even needed"
        wait_until(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'tend-live-listen'"
                ).fetchone()
                == (1,)
            ),
            WITHIN,
            "the server to LISTEN again",
        )
    # And announcements flow again.
    session = act(session, 1, "ready")
    for stream in streams:
        caught_up(stream, session.version)
        stream.close()


def test_a_lost_notify_costs_at_most_one_reconnect(servers, private_postgres):
    alice, bob = UserFactory(display_name="Alice"), UserFactory(display_name="Bob")
    session = engine.start(make_couple(alice, bob), alice, 1, "eye_gazing", "two_devices", {})
    server = servers(private_postgres.url, LIVE_HEARTBEAT_SECONDS="2")
    cookies = {who: cookies_of(server, who) for who in (alice, bob)}
    streams = {who: open_stream(server, cookies[who], session) for who in (alice, bob)}
    seen = str(session.version)
    # A change that announces nothing, as if its NOTIFY had been lost.
    Session.objects.filter(pk=session.pk).update(version=F("version") + 1)
    session.refresh_from_db()
    # A page that reconnects now hears of it at once...
    fresh = open_stream(server, cookies[bob], session, last_event_id=seen)
    assert caught_up(fresh, session.version, timeout=1.0) < 1.0
    fresh.close()
    # ...and pages that stay connected by their next heartbeat (2 s here), with no reconnect.
    for stream in streams.values():
        caught_up(stream, session.version, timeout=4.0)
        assert not stream.ended
        stream.close()


def test_streams_keep_following_with_redis_stopped(servers, pair, private_redis):
    alice, bob, session = pair
    server = servers(database_url(), private_redis.url)
    streams = [open_stream(server, cookies_of(server, who), session) for who in (alice, bob)]
    private_redis.stop()
    session = act(session, 1, "next")
    for stream in streams:
        caught_up(stream, session.version)
    session = act(session, 2, "ready")
    for stream in streams:
        caught_up(stream, session.version)
        stream.close()
