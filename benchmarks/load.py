"""Load benchmark: the pages couples use most, under gunicorn, against the seeded data set.

Seed first (benchmarks/seed.py), then:

    .venv/bin/python benchmarks/load.py [--users 50] [--duration 60] [--think 1.0]
        [--servers gthread,sync] [--phases ceiling,mix,dashboard,ritual,keep,poll]

It starts gunicorn on a free 127.0.0.1 port with production settings
(DEBUG off, Redis cache and sessions, PostgreSQL from DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tend_bench_load), logs in ``--users``
partners of the seeded couples (sessions written straight into the session
store, as a log-in would, to keep password hashing out of the figures), gives
each couple a live exercise, and runs these phases, each ``--duration``
seconds at the same concurrency:

- ``ceiling``: every user requests /bench/ceiling/ back to back (one query,
  one tiny template; with the user's cookies, so it also pays the session
  read and the user query every page pays; ``--anonymous-ceiling`` drops
  them): what this machine, gunicorn and PostgreSQL do at best;
- ``mix``: every user loops dashboard → ritual page → mark today's
  occurrence kept (or undo it, alternately), pausing ``--think`` seconds
  (±50 %) between pages as a person would, while their open exercise polls
  every 2 s with the version it has (a 204);
- ``dashboard``, ``ritual``, ``keep``, ``poll``: every user requests that one
  page back to back: its throughput, read as a share of the ceiling's.

Prints per phase and page: requests, requests/s, p50/p95/p99 latency and the
error rate; each page's throughput as a share of the ceiling's; PASS/MISS per
target (at 50 users on 2 cores: dashboard p95 <= 150 ms with no errors and
poll p95 <= 30 ms under the mix; every page >= 40 % of the ceiling's
throughput). The load generator is a small asyncio HTTP/1.1 keep-alive
client (no dependency), only ever to 127.0.0.1, bounded in time and in count.
gunicorn is always stopped, the sessions made for the run are deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"

SERVERS = {
    # Two workers per core, four threads each: threads overlap the waits on
    # PostgreSQL and Redis; keep-alive is kept.
    "gthread": ["--workers", "4", "--worker-class", "gthread", "--threads", "4"],
    # 2 x cores + 1 sync workers, gunicorn's classic advice; no keep-alive.
    "sync": ["--workers", "5"],
}
DEFAULT_SERVER = "gthread"
PHASES = ["ceiling", "mix", "dashboard", "ritual", "keep", "poll"]
TARGETS = {"dashboard_p95_ms": 150.0, "poll_p95_ms": 30.0, "share_of_ceiling": 0.40}
REQUEST_TIMEOUT = 10.0
ANONYMOUS_CEILING = False  # --anonymous-ceiling: no cookie, so no session read and no user query
IDLE_RECONNECT = 1.5  # gunicorn closes idle keep-alive connections after 2 s


def production_env(database_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-load-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}",
        "SMTP_HOST": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": "redis://127.0.0.1:6379/7",
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
        if finished > self.end:
            return result  # finished after the phase: not counted
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


async def get_dashboard(run: Run, conn: Connection, user: User, label: str = "dashboard"):
    await run.send(conn, label, "GET", "/", page_headers(user))


async def get_ritual(run: Run, conn: Connection, user: User, label: str = "ritual"):
    await run.send(conn, label, "GET", f"/rituals/{user.ritual_id}/", page_headers(user))


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
    headers = {"Accept": "text/html"} if ANONYMOUS_CEILING else page_headers(user)
    await run.send(conn, label, "GET", "/bench/ceiling/", headers)


SOLO = {
    "ceiling": get_ceiling,
    "dashboard": get_dashboard,
    "ritual": get_ritual,
    "keep": post_keep,
    "poll": get_poll,
}


async def closed_loop(run: Run, user: User, page) -> None:
    conn = Connection(run.port)
    while not run.over():
        await page(run, conn, user)
    conn.close()


async def person(run: Run, user: User, think: float, rng: random.Random) -> None:
    """Dashboard, the ritual page, mark it: a person's loop, pausing between pages."""
    conn = Connection(run.port)
    await asyncio.sleep(rng.uniform(0, think or 0.05))
    while not run.over():
        for page in (get_dashboard, get_ritual, post_keep):
            if run.over():
                break
            await page(run, conn, user)
            if think:
                await asyncio.sleep(
                    min(rng.uniform(0.5, 1.5) * think, max(0, run.end - time.monotonic()))
                )
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


async def run_phase(
    name: str, port: int, users: list[User], duration: float, args
) -> tuple[dict[str, Stats], float]:
    run = Run(port, time.monotonic() + duration, args.max_requests)
    rng = random.Random(args.random_seed)
    started = time.monotonic()
    if name == "mix":
        tasks = [person(run, u, args.think, rng) for u in users]
        tasks += [poller(run, u, args.poll_interval, rng) for u in users]
    else:
        tasks = [closed_loop(run, u, SOLO[name]) for u in users]
    await asyncio.gather(*tasks)
    elapsed = min(time.monotonic(), run.end) - started
    return run.stats, elapsed


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


async def warm_up(port: int, users: list[User], seconds: float) -> None:
    """Every page a few times on every worker: templates compiled, connections opened."""
    run = Run(port, time.monotonic() + seconds, 10**6)
    rng = random.Random(0)
    await asyncio.gather(
        *[person(run, u, 0, rng) for u in users],
        *[closed_loop(run, u, get_ceiling) for u in users[:10]],
        *[closed_loop(run, u, get_poll) for u in users[:10]],
    )
    errors = {label: s for label, s in run.stats.items() if s.errors}
    if errors:
        for label, stats in errors.items():
            print(f"  warm-up errors on {label}: {stats.errors}, e.g. {stats.samples}")
        raise SystemExit(
            "pages fail before the measurement: see above and var/bench-load-gunicorn.log"
        )


# --- setting up: data, sessions, gunicorn -------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ.update(production_env(database_url))
    import django

    django.setup()


def make_users(count: int) -> list[User]:
    """Log in ``count`` partners of the first seeded couples, each couple with a live exercise."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.utils import timezone

    from couples.models import Membership
    from exercises import engine
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
        exercise = engine.start(couple, person, membership.seat, "eye_gazing", "two_devices", {})
        store = SessionStore()
        store[SESSION_KEY] = str(person.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = person.get_session_auth_hash()
        store.create()
        users.append(
            User(
                user_id=person.pk,
                session_key=store.session_key,
                ritual_id=ritual.pk,
                occurrence=occurrence.isoformat(),
                exercise_id=exercise.pk,
                version=exercise.version,
            )
        )
    if len(users) < count:
        raise SystemExit(
            f"only {len(users)} partners in the database: seed with benchmarks/seed.py"
        )
    return users


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
        self, server: str, port: int, database_url: str, extra: list[str], wsgi: str
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
        self.env = os.environ | production_env(database_url)
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


def print_table(
    results: dict[str, tuple[dict[str, Stats], float]], cpu: dict[str, tuple[float, ...]]
) -> None:
    """One line per phase and page; CPU per request (gunicorn, PostgreSQL) for one-page phases."""
    print(
        f"  {'phase':<10} {'page':<10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>8} {'CPU ms/req: app':>15} {'db':>5}"
    )
    for phase, (stats_by_page, elapsed) in results.items():
        total = sum(s.requests for s in stats_by_page.values())
        for page, stats in stats_by_page.items():
            rate = stats.requests / elapsed if elapsed else 0
            error_rate = stats.errors / stats.requests if stats.requests else 0
            per_request = (
                f"{cpu[phase][0] * 1000 / total:>15.1f} {cpu[phase][1] * 1000 / total:>5.1f}"
                if len(stats_by_page) == 1 and total
                else ""
            )
            print(
                f"  {phase:<10} {page:<10} {stats.requests:>9,} {rate:>8.1f} "
                f"{stats.percentile(50):>8.1f} {stats.percentile(95):>8.1f} "
                f"{stats.percentile(99):>8.1f} {error_rate:>7.2%} {per_request}"
            )
            for sample in stats.samples:
                print(f"      e.g. {sample}")


def judge(results: dict[str, tuple[dict[str, Stats], float]]) -> list[tuple[bool, str]]:
    verdicts = []

    def rate(phase: str, page: str) -> float | None:
        if phase not in results or page not in results[phase][0]:
            return None
        stats, elapsed = results[phase][0][page], results[phase][1]
        return len(stats.latencies) / elapsed if elapsed else None

    if "mix" in results:
        mix = results["mix"][0]
        dashboard = mix.get("dashboard", Stats())
        p95 = dashboard.percentile(95)
        ok = p95 <= TARGETS["dashboard_p95_ms"] and dashboard.errors == 0 and dashboard.latencies
        verdicts.append(
            (
                bool(ok),
                f"dashboard p95 {p95:.1f} ms <= {TARGETS['dashboard_p95_ms']:.0f} ms "
                f"under the mix, {dashboard.errors} errors",
            )
        )
        poll = mix.get("poll", Stats())
        p95 = poll.percentile(95)
        verdicts.append(
            (
                bool(p95 <= TARGETS["poll_p95_ms"] and poll.latencies),
                f"poll p95 {p95:.1f} ms <= {TARGETS['poll_p95_ms']:.0f} ms under the mix "
                f"({poll.errors} errors)",
            )
        )
        errors = sum(s.errors for s in mix.values())
        verdicts.append((errors == 0, f"no errors under the mix ({errors})"))
    ceiling = rate("ceiling", "ceiling")
    if ceiling:
        for page in ("dashboard", "ritual", "keep", "poll"):
            page_rate = rate(page, page)
            if page_rate is None:
                continue
            share = page_rate / ceiling
            verdicts.append(
                (
                    share >= TARGETS["share_of_ceiling"],
                    f"{page} throughput {page_rate:.0f}/s = {share:.0%} of the ceiling's "
                    f"{ceiling:.0f}/s (>= {TARGETS['share_of_ceiling']:.0%})",
                )
            )
    return verdicts


# --- main ------------------------------------------------------------------


def seed_smoke(database_url: str) -> None:
    script = Path(__file__).with_name("seed.py")
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, str(script), "--smoke"], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent partners (even: couples)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean pause between a person's pages in the mix"
    )
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument(
        "--servers", default=DEFAULT_SERVER, help=f"gunicorn set-ups to try: {', '.join(SERVERS)}"
    )
    parser.add_argument(
        "--gunicorn-args", default="", help="more gunicorn options, space separated"
    )
    parser.add_argument(
        "--wsgi",
        default="config.wsgi",
        help="the WSGI module gunicorn serves (another one can try a change without editing)",
    )
    parser.add_argument(
        "--anonymous-ceiling",
        action="store_true",
        help="request the ceiling without the users' cookies (one query instead of two)",
    )
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="per phase, a bound")
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tend_bench_load"
        ),
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seed a tiny data set (seed.py --smoke), then every phase for a moment: "
        "shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.users, args.duration, args.warm_up, args.think = 2, 0.5, 0.2, 0.1
        args.gunicorn_args += " --workers 1 --threads 2"  # a repeated --workers wins
        seed_smoke(args.database_url)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown or set(servers) - set(SERVERS):
        parser.error(f"phases are {', '.join(PHASES)}; servers are {', '.join(SERVERS)}")

    global ANONYMOUS_CEILING
    ANONYMOUS_CEILING = args.anonymous_ceiling
    setup_django(args.database_url)
    from django.core.management import call_command

    began = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"collectstatic {time.perf_counter() - began:.1f} s (production static files)")
    users = make_users(args.users)
    print(
        f"{len(users)} partners of {len(users) // 2} couples logged in; "
        f"{args.duration:.0f} s per phase; think time {args.think} s in the mix; {load_text()}"
    )
    try:
        for server in servers:
            port = free_port()
            extra = args.gunicorn_args.split()
            with Gunicorn(server, port, args.database_url, extra, args.wsgi) as gunicorn:
                print(f"\ngunicorn {' '.join(gunicorn.args[2:])}")
                asyncio.run(prepare_csrf(port, users))
                asyncio.run(warm_up(port, users, args.warm_up))
                results, cpu = {}, {}
                for phase in phases:
                    before = load_text()
                    server_cpu = cpu_seconds(gunicorn.process.pid)
                    db_cpu = database_cpu()
                    own_cpu = time.process_time()
                    busy = machine_busy_seconds()
                    results[phase] = asyncio.run(run_phase(phase, port, users, args.duration, args))
                    cpu[phase] = (
                        cpu_seconds(gunicorn.process.pid) - server_cpu,
                        database_cpu_since(db_cpu),
                        time.process_time() - own_cpu,
                    )
                    # Everything else the machine did meanwhile: other people's work.
                    others = machine_busy_seconds() - busy - sum(cpu[phase])
                    app, database, generator = cpu[phase]
                    available = os.cpu_count() * args.duration
                    print(
                        f"  {phase:<10} done ({before} before; CPU s: gunicorn {app:.1f}, "
                        f"PostgreSQL {database:.1f}, load generator {generator:.1f}, "
                        f"other processes {max(others, 0):.1f}, of {available:.0f})",
                        flush=True,
                    )
            print()
            print_table(results, cpu)
            print()
            for ok, text in judge(results):
                print(f"  {'PASS' if ok else 'MISS'}  {text}")
    finally:
        forget_sessions(users)


if __name__ == "__main__":
    main()
