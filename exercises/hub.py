"""Wake-ups for open live streams: "something of space N changed, look again".

PostgreSQL stays the only truth. A write that changes what a live page or the
dashboard's waiting card shows calls ``announce(couple_id)``; every stream of
that space (in any web process) then re-reads the truth with one query and
sends what moved. An announcement carries the space's id and, for a move in
a live exercise, the seat that made it, the session and its new version and
whether it still runs: no content, so nothing private can travel through it.
These only let the mover's own stream pass the version on without reading
the database or drawing a stage its page already has from its own request.

Two transports:

1. PostgreSQL: ``pg_notify`` inside the writing transaction. PostgreSQL
   delivers it only if and when that transaction commits, so a stream never
   wakes before the change is visible, and a rolled-back change wakes nobody.
   Each web process holds one ``LISTEN`` connection (psycopg's
   ``AsyncConnection``) for all its streams.
2. Anything else (the SQLite of the embedded default): the announcement is
   handed to this process's streams after commit, and every stream also looks
   again every ``LIVE_RECHECK_SECONDS``, for writes made by another process.

Why a lost announcement costs at most one reconnect: a stream re-reads the
truth on every wake-up and every heartbeat, and each (re)connect starts from
the version the page has. When the ``LISTEN`` connection drops, every stream
of the process is woken once it is back (announcements sent meanwhile are
lost), and a stream that can't reach the database ends, so its page
reconnects and starts over from its version.

Why not Redis pub/sub: PostgreSQL already holds the truth and the
transaction; NOTIFY needs no second service in the path of a move, and while
Redis is out (which Tend survives, docs/faults.md) live pages keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from typing import NamedTuple

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction

logger = logging.getLogger(__name__)

CHANNEL = "tend_live"
# How long the LISTEN connection may stay silent before we check it still works
# (a network cut without a reset would otherwise leave it waiting for ever).
PROBE_AFTER = 10.0
RETRY_AFTER = (0.2, 0.5, 1.0, 2.0, 5.0)


class Move(NamedTuple):
    """A partner's move in a live session, as announced."""

    seat: int
    session_id: int
    version: int
    active: bool


def announce(couple_id: int, move: Move | None = None) -> None:
    """Tell every open stream of this space to look again, once the change commits;
    ``move``: what it was, if it was a partner's move."""
    if connection.vendor == "postgresql":
        payload = str(couple_id)
        if move is not None:
            payload += f" {move.seat} {move.session_id} {move.version} {int(move.active)}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
    else:
        transaction.on_commit(lambda: wake_local(couple_id, move))


def wake_local(couple_id: int, move: Move | None = None) -> None:
    """Wake this process's streams of a space (from any thread)."""
    hub = _hub
    if hub is not None:
        hub.wake_threadsafe(couple_id, move)


def parse(payload: str) -> tuple[int, Move | None]:
    """(space, the move or None) from a notification's payload; ValueError if malformed."""
    couple, *move = payload.split(" ")
    if not move:
        return int(couple), None
    seat, session_id, version, active = (int(part) for part in move)
    return int(couple), Move(seat, session_id, version, bool(active))


class Wake(asyncio.Event):
    """One stream's wake-up, with the moves that woke it since it last looked
    (None: something else, or not known)."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: set[Move | None] = set()

    def ring(self, move: Move | None) -> None:
        self.moves.add(move)
        self.set()

    def take(self) -> set[Move | None]:
        """The moves since the last ``take``, and the wake-up reset."""
        moves, self.moves = self.moves, set()
        self.clear()
        return moves


class Hub:
    """The streams of one process, by space, and the task that wakes them.

    Lives in the event loop of the ASGI server; ``watch`` and ``unwatch`` are
    called from that loop only.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.watchers: dict[int, set[Wake]] = defaultdict(set)
        self.listening = asyncio.Event()
        self.uses_postgres = connections["default"].vendor == "postgresql"
        self.task = loop.create_task(self._listen() if self.uses_postgres else self._tick())

    def watch(self, couple_id: int) -> Wake:
        event = Wake()
        self.watchers[couple_id].add(event)
        return event

    def unwatch(self, couple_id: int, event: Wake) -> None:
        events = self.watchers.get(couple_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self.watchers[couple_id]

    def wake(self, couple_id: int, move: Move | None = None) -> None:
        for event in self.watchers.get(couple_id, ()):
            event.ring(move)

    def wake_all(self) -> None:
        for events in self.watchers.values():
            for event in events:
                event.ring(None)

    def wake_threadsafe(self, couple_id: int, move: Move | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
            self.loop.call_soon_threadsafe(self.wake, couple_id, move)

    @property
    def streams(self) -> int:
        return sum(len(events) for events in self.watchers.values())

    async def _tick(self) -> None:
        """Without LISTEN: every stream looks again every few seconds."""
        self.listening.set()
        while True:
            await asyncio.sleep(settings.LIVE_RECHECK_SECONDS)
            self.wake_all()

    async def _listen(self) -> None:
        """1. Connect and LISTEN. 2. Wake everyone: announcements sent while we
        weren't listening are lost. 3. Wake the streams of each announced
        space; probe a silent connection now and then. 4. On any failure, wait
        a little and start over."""
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    **listen_params(), autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self.listening.set()
                    self.wake_all()
                    while True:
                        async for note in conn.notifies(timeout=PROBE_AFTER):
                            with contextlib.suppress(ValueError):
                                self.wake(*parse(note.payload))
                        await conn.execute("SELECT 1")  # silent for a while: still there?
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as error:
                self.listening.clear()
                pause = RETRY_AFTER[min(failures, len(RETRY_AFTER) - 1)]
                failures += 1
                logger.warning("live: LISTEN connection lost (%s); again in %.1f s", error, pause)
                # Streams can't hear announcements now: make them look at the truth.
                self.wake_all()
                await asyncio.sleep(pause)


def listen_params() -> dict:
    """Connection parameters of the default database, for psycopg directly."""
    config = connections["default"].settings_dict
    params = {
        "dbname": config["NAME"],
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        "connect_timeout": 5,
        "application_name": "tend-live-listen",
    }
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "options"):
        if key in config.get("OPTIONS", {}):
            params[key] = config["OPTIONS"][key]
    return {key: value for key, value in params.items() if value is not None}


_hub: Hub | None = None
_hub_lock = threading.Lock()


def hub() -> Hub:
    """This process's hub, started in the running loop on first use."""
    global _hub
    loop = asyncio.get_running_loop()
    with _hub_lock:
        if _hub is None or _hub.loop is not loop or _hub.loop.is_closed():
            _hub = Hub(loop)
        return _hub
