"""Live streams under a real ASGI server: uvicorn in its own process, and a reader for its events.

- ``AsgiServer``: ``uvicorn config.asgi:application`` on a free loopback
  port, against the test database (PostgreSQL or the SQLite file) and
  whatever Redis it is given; it can be stopped and started again on the
  same port, as a restarted server would be.
- ``EventStream``: one ``text/event-stream`` response read over a raw socket,
  event by event, each with the moment it arrived.

The test process writes (or acts through the server's own views) and reads
what the server streams; ``tests/faults/test_live_faults.py`` and the
two-browser test use the same server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.web import HOST, WebServer, web_environment

ROOT = Path(__file__).resolve().parent.parent


def asgi_environment(database: str, redis_url: str = "", **extra: str) -> dict[str, str]:
    env = web_environment(redis_url=redis_url, database=database)
    if database.startswith("postgres"):
        env["DB_POOL"] = "true"  # as docker-compose runs it: no new connection per request
    if not redis_url:
        env.pop("REDIS_URL", None)  # the server's own memory cache; sessions from the database
    env.update(extra)
    return env


class AsgiServer(WebServer):
    """uvicorn serving ``config.asgi``, logging to a file; started and stopped as
    gunicorn is (``tests.faults.web.WebServer``), on a port it keeps across restarts."""

    program = "uvicorn"

    def __init__(
        self, env: dict[str, str], logdir: Path, *, port: int | None = None, workers: int = 1
    ) -> None:
        super().__init__(env, logdir, workers=workers)
        self.port = port or self.port
        self.log = logdir / f"uvicorn-{self.port}.log"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "config.asgi:application"),
            *("--host", HOST, "--port", str(self.port), "--log-level", "warning"),
            *("--timeout-graceful-shutdown", "2", "--no-access-log", "--lifespan", "off"),
            *("--workers", str(self.workers)),
        ]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def wait_for_its_connections_to_close(timeout: float = 10) -> None:
    """PostgreSQL ends a stopped server's backends a moment after it exits: wait, so
    the test database can be dropped at the end of the run."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@dataclass
class Event:
    name: str  # "" for a comment line (a heartbeat)
    data: str
    id: str | None
    at: float  # time.monotonic() when it arrived


@dataclass
class EventStream:
    """A GET that answers ``text/event-stream``, read as the browser's EventSource would."""

    port: int
    path: str
    cookies: dict[str, str]
    last_event_id: str | None = None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""  # of a response that isn't a stream
    ended: bool = False  # the server closed the stream

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((HOST, self.port), timeout=10)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {HOST}:{self.port}",
            "Accept: text/html, text/event-stream",
            "HX-Request: true",
            f"Cookie: {cookie}",
        ]
        if self.last_event_id is not None:
            lines.append(f"Last-Event-ID: {self.last_event_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ", 2)[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.text = ""
        if not self.headers.get("content-type", "").startswith("text/event-stream"):
            self.body = self._rest().decode(errors="replace")
            self.close()

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.buffer += self._recv()
        found, self.buffer = self.buffer.split(marker, 1)
        return found

    def _rest(self) -> bytes:
        if "content-length" in self.headers:
            size = int(self.headers["content-length"])
            while len(self.buffer) < size:
                self.buffer += self._recv()
            return self.buffer[:size]
        return b"".join(iter(self._chunk, b"")) if self.chunked else b""

    def _chunk(self) -> bytes:
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            return b""
        while len(self.buffer) < size + 2:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return data

    def next(self, timeout: float) -> Event | None:
        """The next event or comment, or None if none came within ``timeout`` seconds.

        Sets ``ended`` (and returns None) when the server closes the stream.
        """
        deadline = time.monotonic() + timeout
        while "\n\n" not in self.text:
            if self.ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self._chunk() if self.chunked else self._recv()
            except TimeoutError:
                return None
            except (EOFError, ConnectionError):
                self.ended = True
                continue
            if self.chunked and data == b"":
                self.ended = True
                continue
            self.text += data.decode()
        block, self.text = self.text.split("\n\n", 1)
        name, data, event_id = "", [], None
        for line in block.split("\n"):
            field_name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field_name == "event":
                name = value
            elif field_name == "data":
                data.append(value)
            elif field_name == "id":
                event_id = value
        return Event(name, "\n".join(data), event_id, time.monotonic())

    def next_event(self, timeout: float) -> Event | None:
        """The next named event, skipping comments (heartbeats)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.0, deadline - time.monotonic()))
            if event is None or event.name:
                return event

    def wait_closed(self, timeout: float) -> list[Event]:
        """Read until the server closes the stream; the events that came before."""
        deadline = time.monotonic() + timeout
        seen = []
        while not self.ended and time.monotonic() < deadline:
            event = self.next(max(0.0, deadline - time.monotonic()))
            if event is not None:
                seen.append(event)
        return seen

    def close(self) -> None:
        self.sock.close()
