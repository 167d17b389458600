"""Server-sent events: a live session's page and the dashboard's waiting card follow
the partner's moves as they happen.

A stream says "changed" with the new version (or, for the waiting card, the
new signature: the live session's id, or 0) and the server's clock in
milliseconds, which the pages' timers count from. When the partner made the
move, a live session's event also carries the new stage, drawn for the
stream's own viewer by the code that answers the 2-second poll
(``exercises.views.stage_for``): one place decides what a partner may see, so
sealed and private entries can't travel early through a stream either, and
the page shows the move without asking for it. An event without a stage (the
stream's own viewer moved, it has just (re)connected, or the drawing failed)
makes the page fetch the stage from the poll, as before.

Each stream:

1. Checks its viewer before sending anything: an outsider, or anyone not
   logged in, gets 404 and no stream.
2. Starts from the version the page has (``Last-Event-ID`` on a reconnect,
   ``?v=``/``?sig=`` on the first connect) and says "changed" at once if the
   truth has moved on, so nothing announced while it was away is missed.
3. Waits for a wake-up (``exercises.hub``) or the heartbeat interval, then
   re-reads the session and its viewer from scratch (``stream_viewer``), and
   draws the stage if the version moved on by someone else's move (a wake-up
   by the viewer's own moves only passes their version on, unread, as long
   as the last read is less than a heartbeat interval old): a
   logged-out session, a changed password, a partner who left end the stream
   at once (``event: end``), as does a finished session after its last
   "changed". A heartbeat comment keeps proxies from closing an idle stream.
4. Ends without ``end`` if the database can't be read: the page reconnects
   and starts over from its version.

Under WSGI (gunicorn, the test client) an endless response would tie up a
worker thread: there the stream answers 204 and the page keeps polling. The
views themselves are plain functions (the check is a query either way); only
the body is async, which Django's ASGI handler streams from its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from accounts.middleware import without_user
from couples.viewer import Row, Viewer, viewer_for
from exercises import hub
from exercises.live import waiting_signature
from exercises.models import Session

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watch:
    """What one stream follows, as the database has it now."""

    couple_id: int
    version: str  # the session's version, or the waiting card's signature
    active: bool = True  # a finished session's stream ends after its last change
    viewer: Viewer | None = None  # a live session's stream: who is watching
    session: Session | None = None  # and the session, as read with the viewer
    stage: str = ""  # the stage drawn for the viewer at this version, if it was


def stream_viewer(request: HttpRequest, session_id: int | None) -> Watch | None:
    """The space and version a stream may follow, or None: not logged in, not a
    member (any more), password changed, or not their session.

    The only place streams decide who is watching: the one viewer query
    (``couples.viewer``, the session checked as Django's ``get_user`` would)
    with the session's row (found only in the viewer's space), or the waiting
    card's signature, read in the same query, as the polls do
    (``exercises.live``). Asked again on every wake-up, so it never answers
    from the request's first read.
    """
    request.__dict__.pop("_viewer", None)
    if session_id is None:
        found = waiting_signature(request)
        if found is None:
            return None
        viewer, signature = found
        return Watch(viewer.couple.pk, signature)
    viewer = viewer_for(request, session=Row(Session, session_id))
    if viewer is None or viewer.couple is None or viewer.extra["session"] is None:
        return None
    session = viewer.extra["session"]
    return Watch(viewer.couple.pk, str(session.version), session.is_active, viewer, session)


def moved_by_someone_else(watch: Watch, moves: set[hub.Move | None]) -> bool:
    """Whether the moves that woke a stream may include one its own page didn't
    make: a page that moved has the new stage from its own request."""
    own = watch.viewer.membership.seat if watch.viewer is not None else None
    return not moves or any(move is None or move.seat != own for move in moves)


def own_moves_only(watch: Watch, session_id: int | None, moves: set[hub.Move | None]) -> int:
    """The newest version if every move that woke the stream was its viewer's
    own, in this session, which still runs; else 0 (the stream reads the truth).

    Then the page has the new stage from its own request, and the stream only
    passes the version on (for the viewer's other pages) without a read."""
    if session_id is None or watch.viewer is None or not moves:
        return 0
    own = watch.viewer.membership.seat
    if all(
        move is not None and move.seat == own and move.session_id == session_id and move.active
        for move in moves
    ):
        return max(move.version for move in moves)
    return 0


def draw(request: HttpRequest, watch: Watch) -> str:
    """The stage for the stream's viewer, or "" (the page then fetches it)."""
    # Imported here: the views import much that a stream module needn't load early.
    from exercises.views import stage_for

    # The stage's forms carry the CSRF token of the page's cookie; without one
    # (a new token could never reach the page), the page fetches the stage.
    if "CSRF_COOKIE" not in request.META:
        return ""
    try:
        return stage_for(request, watch.viewer, watch.session)
    except DatabaseError:
        raise
    except Exception:
        logger.exception("live: the stage could not be drawn; the page will fetch it")
        return ""


# Streams read the database from a few threads of their own, not one thread
# per stream (Django's default for async views): a thousand open pages then
# hold a handful of database connections, not a thousand.
_database_threads = ThreadPoolExecutor(
    max_workers=settings.LIVE_DATABASE_THREADS, thread_name_prefix="live-db"
)


def _read(
    request: HttpRequest,
    session_id: int | None,
    again: bool,
    seen: str | None = None,
    moves: set[hub.Move | None] | None = None,
) -> Watch | None:
    """The stream's viewer and version now; with ``seen`` (the version the page
    was last told), the new stage too if the version moved on by someone
    else's move (``moves``: the moves that woke the stream)."""
    try:
        if again:
            # The session as stored now: a log-out or a new log-in shows here.
            store = import_module(settings.SESSION_ENGINE).SessionStore
            request.session = store(request.session.session_key)
        watch = stream_viewer(request, session_id)
        if (
            watch is not None
            and watch.session is not None
            and seen is not None
            and watch.version != seen
            and moved_by_someone_else(watch, moves or set())
        ):
            watch = dataclasses.replace(watch, stage=draw(request, watch))
        return watch
    finally:
        _tidy_connection()


def _tidy_connection() -> None:
    """What Django does at the end of a request, for this thread's connection:
    close it after an error or past its age (or hand it back to the pool).

    From a pool, the connection stays with its thread between reads: these few
    threads read all the time, and each turn of the pool costs a round trip
    to check the connection it hands out."""
    conn = connections["default"]
    if conn.connection is None:
        return
    pooled = bool(conn.settings_dict.get("OPTIONS", {}).get("pool"))
    too_old = not pooled and conn.close_at is not None and time.monotonic() >= conn.close_at
    if conn.errors_occurred or too_old or not conn.get_autocommit():
        conn.close()


async def _watch(
    request: HttpRequest, session_id: int | None, seen: str, moves: set[hub.Move | None]
) -> Watch | None:
    return await sync_to_async(_read, thread_sensitive=False, executor=_database_threads)(
        request, session_id, True, seen, moves
    )


def _event(name: str, data: str, event_id: str | None = None) -> str:
    """One event; data of several lines goes as several ``data:`` lines (which
    the page's parser joins with newlines again)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    # A lone CR ends a line in SSE too: as in HTML's own parsing, it reads as LF.
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "".join(f"data: {line}\n" for line in lines)
    return f"{head}event: {name}\n{body}\n"


def changed(version: str, stage: str = "") -> str:
    """ "<version> <server clock, ms>", then the new stage on the lines after, if drawn."""
    data = f"{version} {int(time.time() * 1000)}"
    return _event("tend:changed", f"{data}\n{stage}" if stage else data, event_id=version)


async def events(
    request: HttpRequest, session_id: int | None, watch: Watch, seen: str
) -> AsyncIterator[str]:
    """The stream itself (steps 2 to 4 of the module's docstring)."""
    live = hub.hub()
    couple_id = watch.couple_id
    wake = live.watch(couple_id)
    every = settings.LIVE_HEARTBEAT_SECONDS
    try:
        # A first line at once: the headers and this get through any buffer now.
        yield ": open\n\n"
        said = read_at = time.monotonic()
        while True:
            if watch.version != seen:
                seen = watch.version
                # With the server's clock: pages count timers from the same instant.
                yield changed(seen, watch.stage)
                said = time.monotonic()
            if not watch.active:
                yield _event("tend:end", "finished")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, said + every - time.monotonic()))
            moves = wake.take()
            # The viewer's own move: its version, with no read (at least one read
            # a heartbeat interval all the same, for a log-out nobody announces).
            newest = own_moves_only(watch, session_id, moves)
            if newest and time.monotonic() - read_at < every:
                if newest > int(seen):
                    watch = dataclasses.replace(watch, version=str(newest), stage="")
                    seen = watch.version
                    yield changed(seen)
                    said = time.monotonic()
                continue
            try:
                found = await _watch(request, session_id, seen, moves)
                read_at = time.monotonic()
            except DatabaseError:
                return  # no `end`: the page reconnects and starts from its version
            if found is None or found.couple_id != couple_id:
                yield _event("tend:end", "gone")
                return
            watch = found
            if watch.version == seen and time.monotonic() - said >= every:
                yield ": still here\n\n"
                said = time.monotonic()
    finally:
        live.unwatch(couple_id, wake)


def _respond(request: HttpRequest, session_id: int | None, seen: str) -> HttpResponse:
    """1. Check the viewer in this request's thread. 2. Under WSGI answer 204.
    3. Under ASGI hand back a response whose body is the async ``events``."""
    if not isinstance(request, ASGIRequest):
        # No streams under WSGI (gunicorn, the test client): the page keeps polling.
        if stream_viewer(request, session_id) is None:
            raise Http404("Nothing to follow here")
        return HttpResponse(status=204)
    watch = _read(request, session_id, again=False)
    # This request's thread lives as long as its stream: it must not keep a
    # database connection all that time (the stream's checks use their own threads).
    connections["default"].close()
    if watch is None:
        raise Http404("Nothing to follow here")
    response = StreamingHttpResponse(
        events(request, session_id, watch, seen), content_type="text/event-stream"
    )
    response["Cache-Control"] = "private, no-store"
    # nginx (and proxies that honour it) must pass each event on at once.
    response["X-Accel-Buffering"] = "no"
    return response


def _last_seen(request: HttpRequest, param: str) -> str:
    return request.headers.get("Last-Event-ID") or request.GET.get(param, "")


# Plain (sync) views: Django streams their async iterator under ASGI all the
# same, and the test client and WSGI servers call them without an event loop.
@without_user
@require_GET
def session_stream(request: HttpRequest, pk: int) -> HttpResponse:
    """A live session's changes, for its page."""
    return _respond(request, pk, _last_seen(request, "v"))


@without_user
@require_GET
def waiting_stream(request: HttpRequest) -> HttpResponse:
    """The dashboard's waiting card: a live exercise starting or ending in the space."""
    return _respond(request, None, _last_seen(request, "sig"))
