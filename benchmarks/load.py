"""Load benchmark: every member page, the poll and two ceilings, under gunicorn, on seeded data.

Seed first (benchmarks/seed.py), then:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_load \\
    REDIS_URL=redis://127.0.0.1:6379/<db> \\
        .venv/bin/python benchmarks/load.py [--users 50] [--duration 15] \\
            [--phases floor,bare,ceiling,pages,poll,keep,cold,think] [--pages rituals,exercises]

It starts gunicorn (4 workers x 4 threads, gthread) on a free 127.0.0.1 port
with production settings (DEBUG off, Redis cache and sessions from REDIS_URL or
``--redis-url``, PostgreSQL from DATABASE_URL or ``--database-url``), logs in
``--users`` partners of the first seeded couples (sessions written straight
into the session store, as a log-in would, to keep password hashing out of
the figures), gives each couple a live exercise, and measures:

- ``bare``: the issue's ceiling, a bare Django page: /bench/ceiling/ (an
  ordinary view behind the project's middleware: one query, one tiny
  template) asked for with no cookie, so no session and no user
  (config/ceiling.py). Run first and last; every page's throughput is read
  as a share of the mean;
- ``ceiling``: the same page with the user's cookies (the session read and
  user query every page pays);
- ``floor``: /bench/bare/, answered by the outermost middleware before any
  other runs: what a request costs when Django does only the query and the
  template. Printed for reference; no target is read against it;
- ``pages``: every member GET page of the URLconf (``tests.member_pages``,
  which the access matrix keeps complete), each filled in with the user's
  own couple's ids (their ritual, their live exercise, a finished one for the
  summary): a page added to the app is measured without being listed here,
  and a route whose parameters can't be filled in stops the run;
- ``poll``: the live exercise's poll with the version it has (a 204);
  ``keep``: marking the ritual kept / undoing it (an htmx POST);
- each of those back to back by every user (closed loop) for ``--duration``
  seconds: requests/s, its share of the bare ceiling's, p50/p95/p99, errors,
  and CPU ms per request of gunicorn and of PostgreSQL's backends (/proc),
  after each user has opened the page once (not counted);
- ``cold``: one user, one request at a time: the partner's write (keep or
  undo, which the dashboard's agenda and the ritual's page show), then the
  page (cold), then the page again (warm); medians of ``--cold-rounds``;
- ``think``: ``--think-users`` people (50) wandering over every page with a
  random pause of ``--think-min``..``--think-max`` seconds (1-3) between
  pages, while their live exercise polls every 2 s: p95 per page. First each
  of them opens every page once (a warm pass, timed and printed, not in the
  p95): a phase that starts more than 10 minutes after the warm-up would
  otherwise find every cached version expired (``config.regions``) and
  measure each first view cold, which the ``cold`` column shows on its own.

Then PASS/MISS per target: every page >= 40 % of the bare ceiling's
throughput, the dashboard and the poll >= 60 %, p95 <= 50 ms with think time,
no errors. The load generator is a small asyncio HTTP/1.1 keep-alive client
(no dependency), only ever to 127.0.0.1, bounded in time and in count.
gunicorn is always stopped, the sessions made for the run are deleted.

``--smoke`` is a seconds-long run of every phase on a tiny data set
(``seed.py --smoke`` first). Without DATABASE_URL / REDIS_URL it starts a
private PostgreSQL and Redis and removes them after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
CEILING_PATH = "/bench/ceiling/"
BARE_PATH = "/bench/bare/"
HOST = "127.0.0.1"

SERVERS = {
    # Two workers per core, four threads each: threads overlap the waits on
    # PostgreSQL and Redis; keep-alive is kept.
    "gthread": ["--workers", "4", "--worker-class", "gthread", "--threads", "4"],
    # 2 x cores + 1 sync workers, gunicorn's classic advice; no keep-alive.
    "sync": ["--workers", "5"],
}
DEFAULT_SERVER = "gthread"
PHASES = ["floor", "bare", "ceiling", "pages", "poll", "keep", "cold", "think"]
TARGETS = {"share": 0.40, "share_busiest": 0.60, "think_p95_ms": 50.0}
BUSIEST = ("dashboard", "poll")  # pages held to the higher share
REQUEST_TIMEOUT = 10.0
IDLE_RECONNECT = 1.5  # gunicorn closes idle keep-alive connections after 2 s
# Route parameters, by the app whose view takes them: which of the user's
# own objects fills them in. Anything else stops the run (fill_paths).
FILL_BY_APP = {("rituals", "pk"): "ritual", ("exercises", "pk"): "session"}
FILL_BY_ROUTE = {
    ("exercise_summary", "pk"): "finished_session",
    ("export_download", "token"): "export",
}


def production_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-load-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}",
        "SMTP_HOST": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "BENCHMARK_CEILING": "true",
        "LOG_LEVEL": "WARNING",
        # Connections live through a whole phase, so the database's CPU per
        # request can be read from its backends (production default: 60 s).
        "DB_CONN_MAX_AGE": "600",
    }


# --- a small HTTP/1.1 client ------------------------------------------------


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive connection, reopened when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def _open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            fresh = False
            if self.writer is None or loop.time() - self.last_used > IDLE_RECONNECT:
                await self._open()
                fresh = True
            try:
                self.writer.write(payload)
                await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                # A kept-alive connection the server closed before reading
                # our request: open a new one and send it once more.
                self.close()
                if fresh or attempt == 2:
                    raise HTTPError(f"connection lost: {error!r}") from error
                continue
            status, response_headers = self._parse_head(head)
            data = await self._read_body(status, method, response_headers)
            self.last_used = loop.time()
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            return status, response_headers, data
        raise HTTPError("unreachable")

    @staticmethod
    def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                value = value.strip()
                # Set-Cookie may repeat: keep them all, one per line.
                headers[name] = f"{headers[name]}\n{value}" if name in headers else value
        return status, headers

    async def _read_body(self, status: int, method: str, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return b"".join(chunks)
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
        data = await self.reader.read()
        self.close()
        return data


# --- the simulated partners ---------------------------------------------------


@dataclass
class User:
    user_id: int
    session_key: str
    ritual_id: int
    occurrence: str  # ISO instant of the ritual's latest past occurrence
    exercise_id: int
    version: int
    paths: dict[str, str] = field(default_factory=dict)  # member page -> its path for this user
    csrf_cookie: str = ""
    csrf_header: str = ""
    kept: bool = False

    def cookies(self) -> str:
        cookie = f"sessionid={self.session_key}"
        return f"{cookie}; csrftoken={self.csrf_cookie}" if self.csrf_cookie else cookie


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # ms, successful requests
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]


class Run:
    """Sends the pages of one phase and keeps their figures."""

    def __init__(self, port: int, end: float, max_requests: int) -> None:
        self.port = port
        self.end = end
        self.budget = max_requests
        self.stats: dict[str, Stats] = {}

    def over(self) -> bool:
        return time.monotonic() >= self.end or self.budget <= 0

    async def send(
        self,
        conn: Connection,
        label: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes = b"",
        expect: int = 200,
    ) -> tuple[int, dict[str, str], bytes] | None:
        self.budget -= 1
        started = time.monotonic()
        result = None
        problem = ""
        try:
            result = await asyncio.wait_for(
                conn.request(method, path, headers, body), REQUEST_TIMEOUT
            )
        except (HTTPError, OSError, TimeoutError) as error:
            conn.close()
            problem = f"{type(error).__name__}: {error}"
        finished = time.monotonic()
        if finished > self.end and label in self.stats:
            return result  # finished after the phase: not counted (unless the page's first)
        stats = self.stats.setdefault(label, Stats())
        if result is not None and result[0] == expect:
            stats.latencies.append((finished - started) * 1000)
        else:
            stats.errors += 1
            if result is not None:
                problem = f"status {result[0]}: {result[2][:120]!r}"
            if len(stats.samples) < 3:
                stats.samples.append(problem)
        return result


def page_headers(user: User) -> dict[str, str]:
    return {"Cookie": user.cookies(), "Accept": "text/html"}


def htmx_headers(user: User) -> dict[str, str]:
    return {"Cookie": user.cookies(), "HX-Request": "true", "Accept": "text/html"}


def get_page(name: str):
    """The request of one member page (by route name), with the user's own ids."""

    async def get(run: Run, conn: Connection, user: User, label: str = name):
        await run.send(conn, label, "GET", user.paths[name], page_headers(user))

    return get


async def post_keep(run: Run, conn: Connection, user: User, label: str = "keep"):
    """Mark the latest occurrence kept, or undo it: the next call does the other."""
    action = "unkeep" if user.kept else "keep"
    form = {"occurrence": user.occurrence, "note": ""}
    if action == "keep":
        form["together"] = "on"
    body = urllib.parse.urlencode(form).encode()
    headers = htmx_headers(user) | {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": user.csrf_header,
        "Origin": f"http://{HOST}:{run.port}",
    }
    result = await run.send(
        conn, label, "POST", f"/rituals/{user.ritual_id}/{action}/", headers, body
    )
    if result is not None and result[0] == 200:
        user.kept = not user.kept


async def get_poll(run: Run, conn: Connection, user: User, label: str = "poll"):
    path = f"/exercises/s/{user.exercise_id}/poll/?v={user.version}"
    await run.send(conn, label, "GET", path, htmx_headers(user), expect=204)


async def get_ceiling(run: Run, conn: Connection, user: User, label: str = "ceiling"):
    """The same users, logged in: it pays the session read and user query every page pays."""
    await run.send(conn, label, "GET", CEILING_PATH, page_headers(user))


async def get_bare(run: Run, conn: Connection, user: User, label: str = "bare"):
    """The issue's ceiling: a bare Django page (an ordinary view behind the project's
    middleware, one query, a tiny template) asked for with no cookie, so no session."""
    await run.send(conn, label, "GET", CEILING_PATH, {"Accept": "text/html"})


async def get_floor(run: Run, conn: Connection, user: User, label: str = "floor"):
    """No cookie, and no middleware but the one that answers it: what is left of a request
    when Django does nothing but the query and the template (for reference; no target)."""
    await run.send(conn, label, "GET", BARE_PATH, {"Accept": "text/html"})


async def closed_loop(run: Run, user: User, page) -> None:
    conn = Connection(run.port)
    while not run.over():
        await page(run, conn, user)
    conn.close()


async def wanderer(
    run: Run, user: User, pages: list, pause: tuple[float, float], rng: random.Random
) -> None:
    """A person: every page in a random order, again and again, pausing between them."""
    conn = Connection(run.port)
    await asyncio.sleep(rng.uniform(0, pause[1]))
    first = True  # the first round is finished in any case: every page has a figure
    while first or not run.over():
        for page in rng.sample(pages, len(pages)):
            if run.over() and not first:
                break
            await page(run, conn, user)
            await asyncio.sleep(min(rng.uniform(*pause), max(0, run.end - time.monotonic())))
        first = False
    conn.close()


async def poller(run: Run, user: User, interval: float, rng: random.Random) -> None:
    """The open exercise's poll, every ``interval`` seconds on its own connection."""
    conn = Connection(run.port)
    next_at = time.monotonic() + rng.uniform(0, interval)
    while True:
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if run.over():
            break
        await get_poll(run, conn, user)
        next_at += interval
        while next_at < time.monotonic():  # a late answer skips a beat, as a browser would
            next_at += interval
    conn.close()


async def run_closed(
    port: int, users: list[User], page, duration: float, max_requests: int
) -> tuple[dict[str, Stats], float]:
    run = Run(port, time.monotonic() + duration, max_requests)
    started = time.monotonic()
    await asyncio.gather(*[closed_loop(run, u, page) for u in users])
    return run.stats, min(time.monotonic(), run.end) - started


async def run_think(
    port: int, users: list[User], names: list[str], args
) -> tuple[dict[str, Stats], float]:
    run = Run(port, time.monotonic() + args.think_duration, args.max_requests)
    rng = random.Random(args.random_seed)
    pages = [get_page(name) for name in names] + [post_keep]
    pause = (args.think_min, args.think_max)
    started = time.monotonic()
    await asyncio.gather(
        *[wanderer(run, u, pages, pause, rng) for u in users],
        *[poller(run, u, args.poll_interval, rng) for u in users],
    )
    return run.stats, min(time.monotonic(), run.end) - started


async def run_cold(
    port: int, user: User, names: list[str], rounds: int
) -> tuple[dict[str, Stats], dict[str, Stats]]:
    """Per page: a write the cached regions show, the page (cold), the page again (warm)."""
    run = Run(port, time.monotonic() + 3600, 10**6)
    cold: dict[str, Stats] = {}
    warm: dict[str, Stats] = {}
    conn = Connection(port)
    for name in [*names, "poll"]:
        page = get_poll if name == "poll" else get_page(name)
        for _ in range(rounds):
            await post_keep(run, conn, user, label="write")
            await page(run, conn, user, label="cold")
            await page(run, conn, user, label="warm")
        cold[name] = run.stats.pop("cold", Stats())
        warm[name] = run.stats.pop("warm", Stats())
    conn.close()
    if run.stats.get("write", Stats()).errors:
        raise SystemExit(f"the writes of the cold phase failed: {run.stats['write'].samples}")
    return cold, warm


async def prepare_csrf(port: int, users: list[User]) -> None:
    """Each user opens their ritual page once, as a browser would, for the CSRF cookie and token."""
    for user in users:
        conn = Connection(port)
        status, headers, body = await conn.request(
            "GET", f"/rituals/{user.ritual_id}/", page_headers(user)
        )
        conn.close()
        if status != 200:
            raise SystemExit(f"user {user.user_id}: ritual page answered {status}")
        cookie = re.search(r"csrftoken=([^;\s]+)", headers.get("set-cookie", ""))
        token = re.search(rb'"X-CSRFToken": "([^"]+)"', body)
        if not cookie or not token:
            raise SystemExit("no CSRF cookie or token on the ritual page")
        user.csrf_cookie = cookie.group(1)
        user.csrf_header = token.group(1).decode()


async def open_every_page(port: int, users: list[User], names: list[str]) -> None:
    """Each user opens each page once, as they would on their first look around."""
    run = Run(port, time.monotonic() + 600, 10**6)

    async def visit(user: User) -> None:
        conn = Connection(port)
        for name in names:
            await get_page(name)(run, conn, user)
        conn.close()

    await asyncio.gather(*[visit(u) for u in users])


async def warm_up(port: int, users: list[User], names: list[str], seconds: float) -> None:
    """Every page on every worker: templates compiled, connections opened, regions cached."""
    run = Run(port, time.monotonic() + seconds, 10**6)
    pages = [get_page(name) for name in names] + [post_keep, get_poll, get_ceiling, get_bare]

    async def visit_all(user: User) -> None:
        conn = Connection(port)
        while not run.over():
            for page in pages:
                await page(run, conn, user)
        conn.close()

    await asyncio.gather(*[visit_all(u) for u in users])
    errors = {label: s for label, s in run.stats.items() if s.errors}
    if errors:
        for label, stats in errors.items():
            print(f"  warm-up errors on {label}: {stats.errors}, e.g. {stats.samples}")
        raise SystemExit(
            "pages fail before the measurement: see above and var/bench-load-gunicorn.log"
        )


# --- setting up: data, sessions, gunicorn -------------------------------------------


def setup_django(database_url: str, redis_url: str) -> None:
    os.environ.update(production_env(database_url, redis_url))
    import django

    django.setup()


def member_routes() -> dict[str, object]:
    """Every member GET page of the URLconf (name -> URLPattern), as the access matrix has them."""
    from django.urls import URLResolver, get_resolver

    from tests.member_pages import member_pages

    wanted = member_pages()
    found: dict[str, object] = {}

    def walk(patterns) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns)
            elif entry.name in wanted:
                found.setdefault(entry.name, entry)

    walk(get_resolver().url_patterns)
    if missing := wanted - set(found):
        raise SystemExit(f"member pages not in the URLconf: {sorted(missing)}")
    return dict(sorted(found.items()))


def fill_paths(routes: dict[str, object], objects: dict[str, int]) -> dict[str, str]:
    """Each route's path with this user's ids; a parameter nobody can fill in stops the run."""
    from django.urls import reverse

    paths = {}
    for name, pattern in routes.items():
        app = pattern.callback.__module__.split(".")[0]
        kwargs = {}
        for param in pattern.pattern.regex.groupindex:
            source = FILL_BY_ROUTE.get((name, param)) or FILL_BY_APP.get((app, param))
            if source is None:
                raise SystemExit(
                    f"load.py can't fill in the parameter {param!r} of the member page {name!r} "
                    f"({pattern.pattern}): add it to FILL_BY_APP or FILL_BY_ROUTE"
                )
            kwargs[param] = objects[source]
        paths[name] = reverse(name, kwargs=kwargs)
    return paths


def make_users(count: int, routes: dict[str, object]) -> list[User]:
    """Log in ``count`` partners of the first seeded couples, each couple with a live exercise."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.utils import timezone

    from couples.models import Membership
    from exercises import engine
    from exercises.models import Session
    from rituals.models import Ritual

    memberships = list(
        Membership.objects.active()
        .filter(couple__archived_at__isnull=True)
        .select_related("user", "couple")
        .order_by("couple_id", "seat")[: count + 1]
    )
    now = timezone.now()
    users: list[User] = []
    for membership in memberships[:count]:
        couple, person = membership.couple, membership.user
        rituals = list(Ritual.objects.filter(couple=couple, is_active=True).order_by("pk"))
        if not rituals:
            raise SystemExit(
                f"couple {couple.pk} has no active ritual: seed with benchmarks/seed.py"
            )
        ritual = rituals[(membership.seat - 1) % len(rituals)]
        occurrence = ritual.schedule.previous_before(now, 1)[0]
        finished = (
            Session.objects.filter(couple=couple, status=Session.Status.FINISHED)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if finished is None:
            raise SystemExit(f"couple {couple.pk} has no finished exercise: seed with seed.py")
        exercise = engine.start(couple, person, membership.seat, "eye_gazing", "two_devices", {})
        store = SessionStore()
        store[SESSION_KEY] = str(person.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = person.get_session_auth_hash()
        store.create()
        objects = {
            "ritual": ritual.pk,
            "session": exercise.pk,
            "finished_session": finished,
            "export": prepare_export(person),
        }
        users.append(
            User(
                user_id=person.pk,
                session_key=store.session_key,
                ritual_id=ritual.pk,
                occurrence=occurrence.isoformat(),
                exercise_id=exercise.pk,
                version=exercise.version,
                paths=fill_paths(routes, objects),
            )
        )
    if len(users) < count:
        raise SystemExit(
            f"only {len(users)} partners in the database: seed with benchmarks/seed.py"
        )
    return users


def prepare_export(person) -> str:
    """A fresh, ready data export of ``person`` (built here, as a worker would,
    and not queued: no worker reads this run's broker), for the download page;
    its token."""
    from django.utils import timezone

    from home.export import build
    from home.models import DataExport

    export = DataExport.objects.filter(user=person).first() or DataExport(user=person)
    export.start_over(timezone.now())
    export.save()
    outcome = build(export.pk, str(export.token))
    if outcome != "ready":
        raise SystemExit(f"the export of user {person.pk} was not built: {outcome}")
    return str(export.token)


def forget_sessions(users: list[User]) -> None:
    from django.contrib.sessions.backends.cached_db import SessionStore

    for user in users:
        SessionStore(session_key=user.session_key).delete()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(
        self,
        server: str,
        port: int,
        database_url: str,
        redis_url: str,
        extra: list[str],
        wsgi: str,
    ) -> None:
        self.server = server
        self.port = port
        self.args = [
            str(VENV_BIN / "gunicorn"),
            wsgi,
            "--no-control-socket",
            "--bind",
            f"{HOST}:{port}",
            *SERVERS[server],
            *extra,
        ]
        self.env = os.environ | production_env(database_url, redis_url)
        self.log = ROOT / "var" / "bench-load-gunicorn.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.log.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                    sock.sendall(request.encode())
                    if b" 200 " in sock.recv(100):
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer /healthz within 60 s: see {self.log}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _proc_cpu(pid: int) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) of a process, from /proc; (0, 0) if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0.0
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds so far of a process and its children (gunicorn's master and workers)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent, used = _proc_cpu(int(entry.name))
            if int(entry.name) == pid or parent == pid:
                total += used
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (from /proc/stat), idle excluded."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def database_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this database (not this process)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: _proc_cpu(pid)[1] for pid in pids}


def database_cpu_since(before: dict[int, float]) -> float:
    """The CPU the database's backends used since ``before`` (backends that ended are lost)."""
    return sum(used - before.get(pid, 0.0) for pid, used in database_cpu().items())


# --- report ----------------------------------------------------------------


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass
class Phase:
    stats: Stats
    elapsed: float
    app_cpu: float = 0.0  # seconds of gunicorn
    db_cpu: float = 0.0  # seconds of PostgreSQL's backends

    @property
    def rate(self) -> float:
        return len(self.stats.latencies) / self.elapsed if self.elapsed else 0.0

    def cpu_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.stats.requests if self.stats.requests else float("nan")


def bare_rate(closed: dict[str, Phase]) -> float:
    rates = [closed[k].rate for k in ("bare", "bare (end)") if k in closed]
    return statistics.fmean(rates) if rates else 0.0


def cpu_share(closed: dict[str, Phase], name: str) -> str:
    """The bare ceiling's CPU per request (gunicorn + PostgreSQL) over the page's: the share
    of the ceiling's throughput the page would reach if both were bound by this machine's CPU.
    Steadier than throughput when other work takes a varying part of the machine."""
    bare = [closed[k] for k in ("bare", "bare (end)") if k in closed]
    page = closed.get(name)
    if not bare or page is None or not page.stats.requests:
        return ""
    ceiling = statistics.fmean(p.cpu_ms(p.app_cpu + p.db_cpu) for p in bare)
    return f"{ceiling / page.cpu_ms(page.app_cpu + page.db_cpu):.0%}"


def print_table(
    closed: dict[str, Phase],
    cold: dict[str, Stats],
    warm: dict[str, Stats],
    think: dict[str, Stats],
) -> None:
    bare = bare_rate(closed)
    ceiling = closed["ceiling"].rate if "ceiling" in closed else 0.0
    print(
        f"  {'page':<18} {'req/s':>7} {'share':>6} {'ceil.':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'errors':>7} {'app CPU':>8} {'db CPU':>7} {'cold ms':>8} "
        f"{'warm ms':>8} {'think p95':>10} {'CPU share':>9}"
    )
    names = list(dict.fromkeys([*closed, *cold, *think]))
    for name in names:
        phase = closed.get(name)
        cells = [f"  {name:<18}"]
        if phase is not None:
            stats = phase.stats
            errors = stats.errors / stats.requests if stats.requests else 0.0
            cells.append(
                f"{phase.rate:>7.1f} {_share(phase.rate, bare):>6} "
                f"{_share(phase.rate, ceiling):>6} "
                f"{stats.percentile(50):>7.1f} {stats.percentile(95):>7.1f} "
                f"{stats.percentile(99):>7.1f} {errors:>7.1%} {phase.cpu_ms(phase.app_cpu):>8.2f} "
                f"{phase.cpu_ms(phase.db_cpu):>7.2f}"
            )
        else:
            cells.append(f"{'':>7} {'':>6} {'':>6} {'':>7} {'':>7} {'':>7} {'':>7} {'':>8} {'':>7}")
        cells.append(f"{_median(cold.get(name)):>8} {_median(warm.get(name)):>8}")
        cells.append(f"{_p95(think.get(name)):>10}")
        cells.append(f"{cpu_share(closed, name):>9}")
        print(" ".join(cells))
        for stats in (phase.stats if phase else None, think.get(name), cold.get(name)):
            for sample in stats.samples if stats else ():
                print(f"      e.g. {sample}")
    print(
        "  (share: of the bare ceiling's throughput; ceil.: of the logged-in ceiling's; CPU in ms "
        "per request; cold: first view after a keep/undo, warm: the view after it, medians; "
        "CPU share: the bare ceiling's CPU per request over the page's)"
    )


def _share(rate: float, ceiling: float) -> str:
    return f"{rate / ceiling:.0%}" if ceiling else ""


def _median(stats: Stats | None) -> str:
    return f"{stats.percentile(50):.1f}" if stats and stats.latencies else ""


def _p95(stats: Stats | None) -> str:
    return f"{stats.percentile(95):.1f}" if stats and stats.latencies else ""


def judge(
    closed: dict[str, Phase], think: dict[str, Stats], pages: list[str]
) -> list[tuple[bool, str]]:
    verdicts = []
    bare = bare_rate(closed)
    for name in [*pages, "poll"]:
        if name not in closed or not bare:
            continue
        share = closed[name].rate / bare
        target = TARGETS["share_busiest"] if name in BUSIEST else TARGETS["share"]
        verdicts.append(
            (
                share >= target and closed[name].stats.errors == 0,
                f"{name}: {closed[name].rate:.0f}/s = {share:.0%} of the bare ceiling's "
                f"{bare:.0f}/s (>= {target:.0%}), {closed[name].stats.errors} errors; "
                f"by CPU per request {cpu_share(closed, name)}",
            )
        )
    for name in [*pages, "poll", "keep"]:
        if name not in think:
            continue
        stats = think[name]
        p95 = stats.percentile(95)
        verdicts.append(
            (
                bool(stats.latencies) and p95 <= TARGETS["think_p95_ms"] and stats.errors == 0,
                f"{name}: p95 {p95:.1f} ms with think time (<= {TARGETS['think_p95_ms']:.0f} ms), "
                f"{stats.errors} errors of {stats.requests}",
            )
        )
    return verdicts


# --- main ------------------------------------------------------------------


def seed_smoke(database_url: str) -> None:
    script = Path(__file__).with_name("seed.py")
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, str(script), "--smoke"], env=env, check=True)


def measure_closed(name: str, page, gunicorn: Gunicorn, users: list[User], args) -> Phase:
    if name in users[0].paths:
        # Each user's copy of the page as it stands now (a cached version may
        # have expired since the warm-up, or a keep changed it): the closed
        # loop measures pages looked at again, the cold phase first looks.
        asyncio.run(open_every_page(gunicorn.port, users, [name]))
    before = load_text()
    server_cpu = cpu_seconds(gunicorn.process.pid)
    db_cpu = database_cpu()
    own_cpu = time.process_time()
    busy = machine_busy_seconds()
    stats_by_label, elapsed = asyncio.run(
        run_closed(gunicorn.port, users, page, args.duration, args.max_requests)
    )
    phase = Phase(
        stats=stats_by_label.get(name, Stats()),
        elapsed=elapsed,
        app_cpu=cpu_seconds(gunicorn.process.pid) - server_cpu,
        db_cpu=database_cpu_since(db_cpu),
    )
    generator = time.process_time() - own_cpu
    # Everything else the machine did meanwhile: other people's work.
    others = machine_busy_seconds() - busy - phase.app_cpu - phase.db_cpu - generator
    print(
        f"  {name:<18} {phase.rate:>7.1f}/s ({before} before; CPU s: gunicorn "
        f"{phase.app_cpu:.1f}, PostgreSQL {phase.db_cpu:.1f}, load generator {generator:.1f}, "
        f"other processes {max(others, 0):.1f}, of {os.cpu_count() * args.duration:.0f})",
        flush=True,
    )
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent partners (even: couples)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per page")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--pages", default="", help="only these member pages (route names)")
    parser.add_argument("--cold-rounds", type=int, default=7)
    parser.add_argument("--think-users", type=int, default=50)
    parser.add_argument("--think-duration", type=float, default=90.0)
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--server", default=DEFAULT_SERVER, choices=sorted(SERVERS))
    parser.add_argument(
        "--gunicorn-args", default="", help="more gunicorn options, space separated"
    )
    parser.add_argument(
        "--wsgi",
        default="config.wsgi",
        help="the WSGI module gunicorn serves (another one can try a change without editing)",
    )
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="per phase, a bound")
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="default: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/tend_bench_load",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: REDIS_URL"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="no server: each member page in-process, CPU ms and statements per request",
    )
    parser.add_argument("--profile-rounds", type=int, default=30)
    parser.add_argument(
        "--profile-cold",
        action="store_true",
        help="with --profile: every look cold (the space's versions replaced before each)",
    )
    parser.add_argument(
        "--profile-top", type=int, default=0, help="with --profile: print this many functions"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seed a tiny data set (seed.py --smoke), then every phase for a moment: "
        "shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases {sorted(unknown)}; phases are {', '.join(PHASES)}")

    private = []
    try:
        if args.smoke:
            args.users = args.think_users = 2
            args.duration, args.warm_up, args.cold_rounds = 0.3, 0.3, 1
            args.think_duration, args.think_min, args.think_max = 1.5, 0.01, 0.05
            args.gunicorn_args += " --workers 1 --threads 2"  # a repeated --workers wins
            args.profile_rounds = 2
            from common import private_postgres, private_redis

            if not args.database_url:
                private.append(private_postgres())
                args.database_url = private[-1].url
                print("no DATABASE_URL: a private PostgreSQL for this smoke run")
            if not args.redis_url:
                private.append(private_redis())
                args.redis_url = private[-1].url
                print("no REDIS_URL: a private Redis for this smoke run")
            from common import ensure_database

            ensure_database(args.database_url)
            seed_smoke(args.database_url)
        args.database_url = (
            args.database_url or "postgres://postgres@127.0.0.1:5432/tend_bench_load"
        )
        if not args.redis_url:
            parser.error("set REDIS_URL or --redis-url (a Redis database of its own)")
        if args.profile:
            setup_django(args.database_url, args.redis_url)
            profile(args)
        else:
            measure(args, phases)
            if args.smoke:  # the in-process profile too, so it keeps working
                profile(args)
    finally:
        for service in reversed(private):
            service.stop()


def profile(args) -> None:
    """In-process, no server: each member page through Django's test client (production
    settings, warm caches), its CPU per request, its statements, and with ``--profile-top``
    the functions that take the most (cProfile)."""
    import cProfile
    import io
    import pstats

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("collectstatic", interactive=False, verbosity=0)  # production static files
    routes = member_routes()
    if args.pages:
        routes = {name: routes[name] for name in args.pages.split(",") if name in routes}
    user = make_users(1, routes)[0]
    client = Client(HTTP_HOST=HOST)
    client.cookies["sessionid"] = user.session_key
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    from config import regions
    from couples.models import Membership

    couple_id = Membership.objects.active().get(user_id=user.user_id).couple_id

    def look(client, path: str, profiler=None) -> float:
        """One request, its CPU seconds; cold: every cached copy of the space stale first."""
        if args.profile_cold:
            regions.changed(couple_id, regions.SPACE)
        began = time.process_time()
        if profiler:
            profiler.enable()
        client.get(path)
        if profiler:
            profiler.disable()
        return time.process_time() - began

    rows = []
    anonymous = Client(HTTP_HOST=HOST)
    # The references first: the floor, the bare ceiling (no cookie), the ceiling logged in.
    references = {"floor": (anonymous, BARE_PATH), "bare": (anonymous, CEILING_PATH)}
    references["ceiling"] = (client, CEILING_PATH)
    pages = {name: (client, path) for name, path in user.paths.items()}
    try:
        for name, (client, path) in {**references, **pages}.items():
            for _ in range(3):  # templates compiled, regions cached
                status = client.get(path).status_code
            if status != 200:
                raise SystemExit(f"{name}: {path} answered {status}")
            statements = 0
            with connection.execute_wrapper(count):
                look(client, path)
            queries = statements
            spent = 0.0
            for _ in range(args.profile_rounds):
                spent += look(client, path)
            cpu = spent * 1000 / args.profile_rounds
            rows.append((name, cpu, queries))
            if args.profile_top:
                profiler = cProfile.Profile()
                for _ in range(args.profile_rounds):
                    look(client, path, profiler)
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
                stats.print_stats(args.profile_top)
                print(f"\n--- {name} ({args.profile_rounds} requests)\n{out.getvalue()}")
    finally:
        forget_sessions([user])
    bare = next(cpu for name, cpu, _ in rows if name == "bare")
    print(
        f"  {'page':<18} {'CPU ms':>7} {'queries':>8} {'bare/page':>10}"
        f"   (in-process, {'cold' if args.profile_cold else 'warm'}; {load_text()})"
    )
    for name, cpu, queries in sorted(rows, key=lambda row: -row[1]):
        print(f"  {name:<18} {cpu:>7.2f} {queries:>8} {bare / cpu:>10.0%}")


def measure(args, phases: list[str]) -> None:
    setup_django(args.database_url, args.redis_url)
    from django.core.management import call_command

    began = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"collectstatic {time.perf_counter() - began:.1f} s (production static files)")
    routes = member_routes()
    if args.pages:
        chosen = [p.strip() for p in args.pages.split(",") if p.strip()]
        if unknown := set(chosen) - set(routes):
            raise SystemExit(f"not member pages: {sorted(unknown)}; they are {sorted(routes)}")
        routes = {name: routes[name] for name in chosen}
    names = list(routes)
    users = make_users(max(args.users, args.think_users), routes)
    print(
        f"{len(users)} partners of {len(users) // 2} couples logged in; {len(names)} member "
        f"pages: {', '.join(names)}; {args.duration:g} s per page; {load_text()}"
    )
    closed: dict[str, Phase] = {}
    cold: dict[str, Stats] = {}
    warm: dict[str, Stats] = {}
    think: dict[str, Stats] = {}
    try:
        port = free_port()
        extra = args.gunicorn_args.split()
        with Gunicorn(args.server, port, args.database_url, args.redis_url, extra, args.wsgi) as g:
            print(f"\ngunicorn {' '.join(g.args[2:])}")
            asyncio.run(prepare_csrf(port, users))
            asyncio.run(warm_up(port, users[: args.users], names, args.warm_up))
            closed_users = users[: args.users]
            plan: list[tuple[str, object]] = []
            if "floor" in phases:
                plan.append(("floor", get_floor))
            if "bare" in phases:
                plan.append(("bare", get_bare))
            if "ceiling" in phases:
                plan.append(("ceiling", get_ceiling))
            if "pages" in phases:
                plan += [(name, get_page(name)) for name in names]
            if "poll" in phases:
                plan.append(("poll", get_poll))
            if "keep" in phases:
                plan.append(("keep", post_keep))
            for name, page in plan:
                closed[name] = measure_closed(name, page, g, closed_users, args)
            if "bare" in phases:  # again at the end: how much the machine drifted
                closed["bare (end)"] = measure_closed("bare", get_bare, g, closed_users, args)
            if "cold" in phases:
                cold, warm = asyncio.run(run_cold(port, users[0], names, args.cold_rounds))
                print(f"  cold/warm done ({args.cold_rounds} rounds per page)")
            if "think" in phases:
                began = time.monotonic()
                asyncio.run(open_every_page(port, users[: args.think_users], names))
                took = time.monotonic() - began
                print(f"  think time's warm pass: every page once, {took:.1f} s")
                before = load_text()
                think, elapsed = asyncio.run(
                    run_think(port, users[: args.think_users], names, args)
                )
                total = sum(s.requests for s in think.values())
                print(
                    f"  think time: {args.think_users} users, {args.think_min:g}-"
                    f"{args.think_max:g} s pauses, {elapsed:.0f} s, {total / elapsed:.1f} req/s "
                    f"({before} before)"
                )
        print()
        print_table(closed, cold, warm, think)
        print()
        verdicts = judge(closed, think, [n for n in names if n in closed])
        for ok, text in verdicts:
            print(f"  {'PASS' if ok else 'MISS'}  {text}")
        met = sum(ok for ok, _ in verdicts)
        print(f"  {met} of {len(verdicts)} targets met")
    finally:
        forget_sessions(users)


if __name__ == "__main__":
    main()
