"""Live-exercise benchmark: N couples mid-exercise, each page holding an event stream.

    .venv/bin/python benchmarks/live.py [--couples 100 500 1000] [--duration 60]
        [--interval 10] [--workers 2] [--heartbeat 15] [--smoke]
    .venv/bin/python benchmarks/live.py --mode poll [--gunicorn 2x8 ...]   # the old 2 s poll

Stream mode (the default). Seeds a PostgreSQL database (``tend_bench_live``
unless DATABASE_URL names another; created if missing, migrated, emptied)
with N couples, each in a live exercise, both partners logged in (sessions
in the ``cached_db`` store, with the keys ``django.contrib.auth.login``
writes). Starts uvicorn (``--workers`` processes, DB_POOL on, DEBUG off; Redis
from REDIS_URL if set, else none) on a free 127.0.0.1 port, opens one
``/exercises/s/<id>/stream/`` per partner (2N), and then each couple makes a
move every ``--interval`` s (the partners in turn, staggered over the
interval): a real htmx POST to ``exercise_act``. The other partner's page
does what ``static/js/live.js`` does with its ``tend:changed`` event: it
shows the stage the event carries, or, if the event carries none, fetches
the new stage from the poll URL. The mover's page asks for nothing (its
POST's answer is the new stage). Prints per N: act → other screen (the
stage on the page) p50/p95/p99, act → event, how many stages came in the
event and how many were fetched, errors, moves never seen; uvicorn,
PostgreSQL and load-generator CPU per move (over the window, heartbeats
included); uvicorn RSS per open stream; and what an idle page costs:
requests per minute (streams the server closed, each a reconnect) and
heartbeats per minute.

Poll mode (``--mode poll``) is the earlier benchmark of the fallback: every
partner polls ``exercise_poll`` every 2 s under gunicorn (gthread), described
below.

For each gunicorn size (WORKERSxTHREADS, gthread workers) and each N, it
seeds the same database, logs both partners in, starts gunicorn with
production settings (DEBUG off, Redis from REDIS_URL) on a free
127.0.0.1 port and has every partner poll ``exercise_poll`` every 2 s with
the version the page has (so the answer is 204), for ``--duration`` seconds
after a short warm-up. Each partner keeps one HTTP/1.1 keep-alive connection,
as a browser tab does; the load generator is asyncio on raw sockets (httpx
is not installed here), only ever to 127.0.0.1.

Prints per run: requests/s, p50/p95/p99 latency, errors (anything not a 204),
how many polls went out late, CPU seconds of the gunicorn processes (master
and workers, from /proc), of the load generator itself, of the PostgreSQL
backends serving this database and of redis-server (shared with anyone else
using it), the database transactions per poll, and then the latency of the
same poll once the version has moved on (a 200 with the new stage). Every
loop is bounded in time; the server is always stopped and the sessions made
for the run are deleted.

The default size, 2 workers x 8 threads, measured best on this 2-core
machine: one process per core (each holds the GIL while it runs Python),
threads to overlap the waits on Redis and PostgreSQL. 4x4 and 2x4 spent
30-50 % more gunicorn CPU per poll and fell behind sooner at 500 couples;
one worker tops out near one core (about 365 polls/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DATABASE_NAME = "tend_bench_live"
DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
PASSWORD = "bench-live-passphrase"  # a throwaway benchmark account
REQUEST_TIMEOUT = 10.0
LATE_AFTER = 0.25  # a poll sent this much after its slot counts as late
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


from common import ensure_database  # noqa: E402 (benchmarks/ is the script's folder)


def server_env() -> dict[str, str]:
    """Production-like settings: DEBUG off, so the checks of a real deployment apply."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-live-secret-key-not-for-production-6c1f0e2a9b7d4e58a3",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}",
        "SMTP_HOST": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        "LOG_LEVEL": "WARNING",
    } | ({"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {})


# --- database and sessions --------------------------------------------------


def setup_django() -> None:
    os.environ.update(server_env())
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass(frozen=True)
class Partner:
    poll_path: str  # with the version the page has
    changed_path: str  # the same poll from a page one version behind
    cookie: str
    session_id: int = 0
    seat: int = 0
    version: int = 0  # the session's version when seeded


def seed(couples: int) -> tuple[list[Partner], float]:
    """Empty the database, then N couples, each partner logged in, each couple mid-exercise."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.db import connection

    from accounts.models import User
    from couples.models import Couple, Membership
    from exercises.models import Session

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE exercises_entry, exercises_session, couples_membership, couples_couple, "
            "account_emailaddress, accounts_user, django_session RESTART IDENTITY CASCADE"
        )
    # One hash for everyone: the poll checks the session-auth hash derived from it,
    # and hashing 1,000 passwords one by one would only slow the seeding.
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(email=f"p{n}@live.bench", display_name=f"P{n}", password=password)
            for n in range(2 * couples)
        ],
        batch_size=2000,
    )
    spaces = Couple.objects.bulk_create([Couple() for _ in range(couples)], batch_size=2000)
    Membership.objects.bulk_create(
        [
            Membership(couple=space, user=users[2 * i + seat - 1], seat=seat)
            for i, space in enumerate(spaces)
            for seat in (1, 2)
        ],
        batch_size=4000,
    )
    sessions = Session.objects.bulk_create(
        [
            Session(
                couple=space,
                kind="eye_gazing",
                started_by=users[2 * i],
                # An hour: the timer never ends during a run.
                settings={"seconds": 3600, "gentle": False},
                state={"first_seat": 1},
                step=1,
                version=7,
            )
            for i, space in enumerate(spaces)
        ],
        batch_size=2000,
    )
    partners = []
    for i, live in enumerate(sessions):
        for seat, user in ((1, users[2 * i]), (2, users[2 * i + 1])):
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save(must_create=True)
            base = f"/exercises/s/{live.pk}/poll/?v="
            partners.append(
                Partner(
                    f"{base}{live.version}",
                    f"{base}{live.version - 1}",
                    store.session_key,
                    live.pk,
                    seat,
                    live.version,
                )
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return partners, time.perf_counter() - started


def delete_sessions(partners: list[Partner]) -> None:
    from django.contrib.sessions.backends.cached_db import SessionStore

    for partner in partners:
        SessionStore(partner.cookie).delete()


def transactions_committed() -> int:
    """This database's committed transactions so far (published about once a second)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


# --- processes and CPU -------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        fields = _stat(pid)
        if fields:  # utime and stime are the 14th and 15th fields
            found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def gunicorn_pids(master: int) -> list[int]:
    children = [pid for pid in all_pids() if (_stat(pid) or ["", ""])[1] == str(master)]
    return [master, *children]


def postgres_backends(database: str) -> list[int]:
    found = []
    for pid in all_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            found.append(pid)
    return found


def redis_pids() -> list[int]:
    found = []
    for pid in all_pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server":
                found.append(pid)
        except OSError:
            continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuSample:
    gunicorn: dict[int, float]
    postgres: dict[int, float]
    redis: dict[int, float]
    own: float
    machine: tuple[float, float]

    @classmethod
    def take(cls, master: int, database: str) -> CpuSample:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            gunicorn=cpu_seconds(gunicorn_pids(master)),
            postgres=cpu_seconds(postgres_backends(database)),
            redis=cpu_seconds(redis_pids()),
            own=usage.ru_utime + usage.ru_stime,
            machine=machine_busy(),
        )


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared during the run counts from zero.
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# --- gunicorn ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_gunicorn(workers: int, threads: int, port: int, log: Path) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"),
        "config.wsgi",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--no-control-socket",
        "--bind",
        f"{HOST}:{port}",
        # A tab polls every 2 s; gunicorn's default keep-alive (2 s) would close
        # its connection just before each poll.
        "--keep-alive",
        "10",
        "--worker-connections",
        "2000",
        "--log-level",
        "warning",
    ]
    with log.open("ab") as output:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **server_env()},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as reply:
                if reply.status == 200 and len(gunicorn_pids(server.pid)) == workers + 1:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    stop_gunicorn(server)
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log}")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


# --- the load generator --------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection, as a browser tab keeps to its site.

    ``fresh_after``: a connection idle that long is replaced before use (uvicorn
    closes idle keep-alive connections after 5 s; a browser knows and opens a new one).
    """

    def __init__(self, port: int, fresh_after: float | None = None) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.fresh_after = fresh_after
        self.used = 0.0

    def refresh(self) -> None:
        now = time.monotonic()
        if self.fresh_after is not None and now - self.used > self.fresh_after:
            self.close()
        self.used = now

    async def get(self, path: str, cookie: str) -> tuple[int, bytes]:
        self.refresh()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Cookie: sessionid={cookie}\r\nHX-Request: true\r\nAccept: text/html\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    wake_lags: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    late: int = 0
    reconnects: int = 0
    sent: int = 0  # warm-up included
    missed: int = 0  # slots skipped because the previous poll was still out


async def poll_as(
    partner: Partner,
    port: int,
    first_slot: float,
    measure_from: float,
    end: float,
    interval: float,
    results: Results,
) -> None:
    """Poll on a fixed rhythm, one slot every ``interval`` s, until ``end``."""
    loop = asyncio.get_running_loop()
    connection = Connection(port)
    slot = first_slot
    try:
        while slot < end:
            wait = slot - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = loop.time()
            counted = slot >= measure_from
            results.sent += 1
            if wait > 0 and counted:
                # How late the generator itself woke up: were it the bottleneck, this would grow.
                results.wake_lags.append(sent - slot)
            try:
                status = await asyncio.wait_for(
                    _get_retrying_once(connection, partner, results), REQUEST_TIMEOUT
                )
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ValueError,
            ) as error:
                connection.close()
                if counted:
                    results.failures[type(error).__name__] += 1
            else:
                if counted:
                    results.latencies.append(loop.time() - sent)
                    results.statuses[status] += 1
                    results.late += sent - slot > LATE_AFTER
            slot += interval
            # Fell behind by more than a whole interval: skip the missed slots,
            # as a browser's timer would rather than firing them in a burst.
            while slot < loop.time() - interval:
                slot += interval
                results.missed += slot >= measure_from and slot < end
    finally:
        connection.close()


async def _get_retrying_once(connection: Connection, partner: Partner, results: Results) -> int:
    reused = connection.writer is not None
    try:
        status, _ = await connection.get(partner.poll_path, partner.cookie)
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
        if not reused:
            raise
        # The server closed the idle connection as we wrote: a browser retries
        # an idempotent GET on a new connection, and so do we.
        connection.close()
        results.reconnects += 1
        status, _ = await connection.get(partner.poll_path, partner.cookie)
    return status


async def run_load(
    partners: list[Partner],
    port: int,
    duration: float,
    warmup: float,
    interval: float,
    sample: Callable[[], CpuSample],
) -> tuple[Results, CpuSample, CpuSample]:
    """Every partner polls until the window closes; CPU is sampled as it opens and closes."""
    loop = asyncio.get_running_loop()
    results = Results()
    start = loop.time() + 0.5
    measure_from = start + warmup
    end = measure_from + duration
    samples: list[CpuSample] = []

    async def sample_at(moment: float) -> None:
        await asyncio.sleep(moment - loop.time())
        samples.append(sample())  # a few ms of /proc reads, in the loop on purpose

    samplers = [asyncio.create_task(sample_at(measure_from)), asyncio.create_task(sample_at(end))]
    # Slots spread evenly over the interval, as tabs opened at random moments would be.
    step = interval / len(partners)
    tasks = [
        asyncio.create_task(
            poll_as(partner, port, start + n * step, measure_from, end, interval, results)
        )
        for n, partner in enumerate(partners)
    ]
    await asyncio.wait_for(
        asyncio.gather(*tasks, *samplers), warmup + duration + REQUEST_TIMEOUT + 15
    )
    return results, samples[0], samples[1]


async def changed_path_latencies(partner: Partner, port: int, times: int) -> list[float]:
    """The poll from a page one version behind: a 200 carrying the new stage."""
    connection = Connection(port)
    loop = asyncio.get_running_loop()
    latencies = []
    try:
        for _ in range(times):
            sent = loop.time()
            status, body = await asyncio.wait_for(
                connection.get(partner.changed_path, partner.cookie), REQUEST_TIMEOUT
            )
            latencies.append(loop.time() - sent)
            if status != 200 or b'id="stage"' not in body:
                raise RuntimeError(f"changed poll answered {status}, {len(body)} bytes")
    finally:
        connection.close()
    return latencies


# --- reporting -----------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(
    label: str,
    couples: int,
    duration: float,
    results: Results,
    before: CpuSample,
    after: CpuSample,
    transactions: int,
) -> None:
    ms = [value * 1000 for value in results.latencies]
    total = sum(results.statuses.values()) + sum(results.failures.values())
    errors = total - results.statuses[204]
    expected = 2 * couples * duration / 2.0
    gunicorn = spent(before.gunicorn, after.gunicorn)
    postgres = spent(before.postgres, after.postgres)
    redis = spent(before.redis, after.redis)
    busy = (after.machine[0] - before.machine[0]) / (after.machine[1] - before.machine[1])
    # CPU that none of the measured processes used: other work on a shared machine.
    others = (after.machine[0] - before.machine[0]) / CLOCK_TICKS - (
        gunicorn + postgres + redis + after.own - before.own
    )
    print(
        f"{label} {couples:>4} couples ({2 * couples} pollers): "
        f"{total / duration:7.1f} req/s (scheduled {expected / duration:.0f}/s), "
        f"p50 {percentile(ms, 0.50):6.1f} ms, p95 {percentile(ms, 0.95):6.1f} ms, "
        f"p99 {percentile(ms, 0.99):6.1f} ms, max {max(ms, default=float('nan')):6.1f} ms; "
        f"errors {errors}"
        + (f" {dict(results.statuses - Counter({204: results.statuses[204]}))}" if errors else "")
        + (f" {dict(results.failures)}" if results.failures else "")
        + f", late {results.late}, missed {results.missed}, reconnects {results.reconnects}"
    )
    per_request = 1000 / total if total else float("nan")
    print(
        f"      CPU s over {duration:.0f} s: gunicorn {gunicorn:5.1f} "
        f"({gunicorn * per_request:.2f} ms/req), "
        f"load generator {after.own - before.own:5.1f} (wake-up lag p99 "
        f"{percentile(results.wake_lags, 0.99) * 1000:.1f} ms), postgres backends {postgres:5.1f} "
        f"({postgres * per_request:.2f} ms/req), redis-server {redis:4.1f} (shared); "
        f"machine {busy * 100:3.0f}% busy of {os.cpu_count()} cores "
        f"(other processes {others / duration:.2f} cores); "
        f"≈{transactions / results.sent:.1f} DB transactions per poll"
    )


def run_one(label: str, workers: int, threads: int, couples: int, args, log: Path) -> None:
    from django.db import connection

    partners, seeded = seed(couples)
    connection.close()  # ours closed: the backends measured are the server's
    server = None
    try:
        port = free_port()
        server = start_gunicorn(workers, threads, port, log)
        print(
            f"      seeded {couples} couples in {seeded:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        database = server_env()["DATABASE_URL"].rsplit("/", 1)[1]
        transactions_before = transactions_committed()
        connection.close()
        results, before, after = asyncio.run(
            run_load(
                partners,
                port,
                args.duration,
                args.warmup,
                args.interval,
                lambda: CpuSample.take(server.pid, database),
            )
        )
        time.sleep(1.5)  # let PostgreSQL publish the backends' counters
        transactions = transactions_committed() - transactions_before
        connection.close()
        report(label, couples, args.duration, results, before, after, transactions)
        changed = asyncio.run(changed_path_latencies(partners[0], port, args.changed))
        print(
            f"      version changed (200 with the stage): first {changed[0] * 1000:.1f} ms, "
            f"median of {len(changed)} {statistics.median(changed) * 1000:.1f} ms "
            f"(server otherwise idle)"
        )
    finally:
        if server is not None:
            stop_gunicorn(server)
        delete_sessions(partners)


# --- streams (the default mode) ------------------------------------------------


def start_uvicorn(workers: int, port: int, log: Path, heartbeat: int) -> subprocess.Popen:
    command = [
        *(str(VENV_BIN / "python"), "-m", "uvicorn", "config.asgi:application"),
        *("--host", HOST, "--port", str(port), "--workers", str(workers)),
        *("--no-access-log", "--log-level", "warning", "--lifespan", "off"),
        *("--timeout-graceful-shutdown", "2", "--no-proxy-headers"),
    ]
    env = {
        **os.environ,
        **server_env(),
        "DB_POOL": "true",
        "LIVE_HEARTBEAT_SECONDS": str(heartbeat),
    }
    with log.open("ab") as output:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as reply:
                if reply.status == 200 and len(uvicorn_workers(server.pid, workers)) >= workers:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    stop_gunicorn(server)
    raise RuntimeError(f"uvicorn did not answer within 60 s; see {log}")


def uvicorn_workers(master: int, workers: int) -> list[int]:
    """The processes serving requests: the children, or with one worker the process itself."""
    return gunicorn_pids(master)[1:] if workers > 1 else [master]


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


CSRF = "benchlivecsrftoken0123456789abcd"  # 32 characters: a CSRF secret of our own


@dataclass
class StreamResults:
    latencies: list[float] = field(default_factory=list)  # act sent -> partner has the stage
    event_lags: list[float] = field(default_factory=list)  # act sent -> partner's event
    moves: int = 0
    errors: Counter = field(default_factory=Counter)
    ended: int = 0  # streams the server closed: each would cost its page a reconnect
    heartbeats: int = 0
    opened: int = 0
    carried: int = 0  # partner's moves whose stage came in the event
    fetched: int = 0  # partner's moves whose stage the page had to fetch


class Sent:
    """When each move went out, by (session, version), and who must see it."""

    def __init__(self) -> None:
        self.at: dict[tuple[int, int], float] = {}


async def open_stream(port: int, partner: Partner) -> tuple[asyncio.StreamReader, object]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        (
            f"GET /exercises/s/{partner.session_id}/stream/?v={partner.version} HTTP/1.1\r\n"
            # The page's cookies: its CSRF cookie too, which the stage's forms carry.
            f"Host: {HOST}:{port}\r\nCookie: sessionid={partner.cookie}; csrftoken={CSRF}\r\n"
            "Accept: text/html, text/event-stream\r\nHX-Request: true\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 200 or b"text/event-stream" not in head:
        writer.close()
        raise RuntimeError(f"stream answered {status}")
    return reader, writer


async def read_events(reader: asyncio.StreamReader):
    """Yield (name, data) of each event, ("", "") for a comment; chunked encoding."""
    text = ""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            return
        text += (await reader.readexactly(size)).decode()
        await reader.readexactly(2)
        while "\n\n" in text:
            block, text = text.split("\n\n", 1)
            name, data = "", []
            for line in block.split("\n"):
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    name = value
                elif key == "data":
                    data.append(value)
            yield name, "\n".join(data)


async def follow(
    partner: Partner,
    port: int,
    connection: tuple[asyncio.StreamReader, object],
    sent: Sent,
    results: StreamResults,
    measuring: Callable[[], bool],
) -> None:
    """A page: its stream, and the partner's move shown as ``live.js`` shows it:
    the stage the event carries, or, for an event without one, the stage
    fetched from the poll."""
    reader, writer = connection
    fetcher = Connection(port, fresh_after=4.0)
    loop = asyncio.get_running_loop()
    try:
        async for name, data in read_events(reader):
            if not name:
                results.heartbeats += measuring()
                continue
            if name != "tend:changed":
                results.errors[f"event {name} {data}"] += 1
                continue
            head, _, stage = data.partition("\n")
            version = int(head.split(" ")[0])
            key = (partner.session_id, version)
            started = sent.at.get(key)
            mover = 1 if version % 2 == 0 else 2  # as act_in_turns() takes turns
            if started is None or mover == partner.seat:
                # Our own move (seats take turns; its stage came with the POST's
                # answer, so the page asks for nothing), or one from before the window.
                continue
            arrived = loop.time()
            if stage:
                results.carried += 1
                if f'data-version="{version}"' not in stage:
                    results.errors["stage in event"] += 1
                    continue
            else:
                status, body = await fetcher.get(
                    f"/exercises/s/{partner.session_id}/poll/?v={version - 1}", partner.cookie
                )
                if status != 200 or f'data-version="{version}"'.encode() not in body:
                    results.errors[f"stage fetch {status}"] += 1
                    continue
                results.fetched += 1
            results.event_lags.append(arrived - started)
            results.latencies.append(loop.time() - started)
        results.ended += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        results.ended += 1
        results.errors[type(error).__name__] += measuring()
    finally:
        fetcher.close()
        writer.close()


async def post_act(connection: Connection, partner: Partner, action: str) -> int:
    connection.refresh()
    if connection.writer is None:
        connection.reader, connection.writer = await asyncio.open_connection(HOST, connection.port)
    body = f"action={action}&step=1".encode()
    connection.writer.write(
        (
            f"POST /exercises/s/{partner.session_id}/act/ HTTP/1.1\r\n"
            f"Host: {HOST}:{connection.port}\r\n"
            f"Cookie: sessionid={partner.cookie}; csrftoken={CSRF}\r\nX-CSRFToken: {CSRF}\r\n"
            "HX-Request: true\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    await connection.writer.drain()
    head = await connection.reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    if length is not None:
        await connection.reader.readexactly(length)
    else:
        await connection._chunked()
    return status


async def act_in_turns(
    couple: tuple[Partner, Partner],
    port: int,
    first: float,
    end: float,
    interval: float,
    sent: Sent,
    results: StreamResults,
    measure_from: float,
) -> None:
    """One couple: a move every ``interval`` s, the partners taking turns."""
    loop = asyncio.get_running_loop()
    connections = {p.seat: Connection(port, fresh_after=4.0) for p in couple}
    version = couple[0].version
    slot = first
    try:
        while slot < end:
            await asyncio.sleep(max(0.0, slot - loop.time()))
            version += 1
            # Seat 1 makes the even versions' moves, seat 2 the odd ones (follow() knows).
            actor = couple[0] if version % 2 == 0 else couple[1]
            counted = slot >= measure_from
            if counted:  # only moves inside the window are timed
                sent.at[(actor.session_id, version)] = loop.time()
            try:
                status = await asyncio.wait_for(
                    post_act(connections[actor.seat], actor, "pause" if version % 4 else "resume"),
                    REQUEST_TIMEOUT,
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                connections[actor.seat].close()
                results.errors[f"act {type(error).__name__}"] += counted
                return  # the versions no longer line up with this couple's count
            if status != 200:
                results.errors[f"act {status}"] += counted
                return
            results.moves += counted
            slot += interval
    finally:
        for connection in connections.values():
            connection.close()


async def run_streams(
    partners: list[Partner], port: int, args, server_pids: Callable[[], list[int]], sample
) -> tuple[StreamResults, CpuSample, CpuSample, float, float]:
    loop = asyncio.get_running_loop()
    results = StreamResults()
    sent = Sent()
    base_rss = rss_bytes(server_pids())
    # Open every stream (a few hundred at a time, as pages load over a while).
    connections = []
    for start in range(0, len(partners), 200):
        batch = partners[start : start + 200]
        connections += await asyncio.gather(*(open_stream(port, p) for p in batch))
    results.opened = len(connections)
    await asyncio.sleep(2)
    per_connection = (rss_bytes(server_pids()) - base_rss) / len(connections)

    window: dict[str, float] = {}
    measuring = lambda: "from" in window and loop.time() < window["end"]  # noqa: E731
    followers = [
        asyncio.create_task(follow(p, port, c, sent, results, measuring))
        for p, c in zip(partners, connections, strict=True)
    ]
    start = loop.time() + 0.5
    window["from"] = start + args.warmup
    window["end"] = window["from"] + args.duration
    couples = list(zip(partners[0::2], partners[1::2], strict=True))
    step = args.interval / len(couples)
    actors = [
        asyncio.create_task(
            act_in_turns(
                couple,
                port,
                start + n * step,
                window["end"],
                args.interval,
                sent,
                results,
                window["from"],
            )
        )
        for n, couple in enumerate(couples)
    ]
    await asyncio.sleep(window["from"] - loop.time())
    before = sample()
    await asyncio.sleep(window["end"] - loop.time())
    after = sample()
    await asyncio.wait_for(asyncio.gather(*actors), REQUEST_TIMEOUT + 5)
    await asyncio.sleep(2)  # the last moves reach their partners
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    return results, before, after, per_connection, base_rss


def report_streams(
    couples: int, args, results: StreamResults, before, after, per_connection: float
) -> None:
    ms = [value * 1000 for value in results.latencies]
    event_ms = [value * 1000 for value in results.event_lags]
    server = spent(before.gunicorn, after.gunicorn)
    postgres = spent(before.postgres, after.postgres)
    redis = spent(before.redis, after.redis)
    busy = (after.machine[0] - before.machine[0]) / (after.machine[1] - before.machine[1])
    moves = results.moves or 1
    missing = results.moves - len(ms)
    errors = sum(results.errors.values())
    print(
        f"uvicorn {args.workers}w {couples:>4} couples ({results.opened} open streams), "
        f"{results.moves} moves in {args.duration:g} s: act → other screen (stage shown) "
        f"p50 {percentile(ms, 0.50):6.1f} ms, p95 {percentile(ms, 0.95):6.1f} ms, "
        f"p99 {percentile(ms, 0.99):6.1f} ms, max {max(ms, default=float('nan')):6.1f} ms; "
        f"act → event p50 {percentile(event_ms, 0.50):.1f} ms, "
        f"p95 {percentile(event_ms, 0.95):.1f} ms; errors {errors}"
        + (f" {dict(results.errors)}" if errors else "")
        + f", moves never seen {missing}; stages in the event {results.carried}, "
        f"fetched {results.fetched}"
    )
    minutes = args.duration / 60
    print(
        f"      CPU per move: uvicorn {server / moves * 1000:.1f} ms, "
        f"postgres {postgres / moves * 1000:.1f} ms, redis-server {redis / moves * 1000:.2f} ms "
        f"(shared), load generator {(after.own - before.own) / moves * 1000:.1f} ms; "
        f"machine {busy * 100:3.0f}% busy of {os.cpu_count()} cores; "
        f"memory per open stream {per_connection / 1024:.1f} KiB (uvicorn RSS); "
        f"idle page: {results.ended / (2 * couples) / minutes:.2f} requests/min "
        f"(streams the server closed), "
        f"{results.heartbeats / (2 * couples) / minutes:.1f} heartbeats/min"
    )


def run_stream_size(couples: int, args, log: Path) -> None:
    from django.db import connection

    partners, seeded = seed(couples)
    connection.close()
    server = None
    try:
        port = free_port()
        server = start_uvicorn(args.workers, port, log, args.heartbeat)
        print(
            f"      seeded {couples} couples in {seeded:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        database = server_env()["DATABASE_URL"].rsplit("/", 1)[1]
        results, before, after, per_connection, _ = asyncio.run(
            run_streams(
                partners,
                port,
                args,
                lambda: uvicorn_workers(server.pid, args.workers),
                lambda: CpuSample.take(server.pid, database),
            )
        )
        report_streams(couples, args, results, before, after, per_connection)
    finally:
        if server is not None:
            stop_gunicorn(server)
        delete_sessions(partners)


def size(text: str) -> tuple[int, int]:
    workers, _, threads = text.lower().partition("x")
    return int(workers), int(threads or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mode",
        choices=["stream", "poll"],
        default="stream",
        help="stream: pages hold an event stream under uvicorn and a partner acts every "
        "--interval s (default); poll: every page polls every --interval s under gunicorn",
    )
    parser.add_argument("--couples", type=int, nargs="+", default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring")
    parser.add_argument(
        "--interval", type=float, default=None, help="seconds between moves (polls)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--heartbeat", type=int, default=15, help="LIVE_HEARTBEAT_SECONDS")
    parser.add_argument(
        "--gunicorn",
        nargs="+",
        default=["2x8"],
        metavar="WORKERSxTHREADS",
        help="poll mode: gunicorn sizes to run (gthread workers), e.g. 2x4 4x4 4x1",
    )
    parser.add_argument("--changed", type=int, default=20, help="changed-version polls to time")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny, seconds-long run that only shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    stream = args.mode == "stream"
    args.couples = args.couples or ([100, 500, 1000] if stream else [100, 500])
    args.duration = args.duration or (60.0 if stream else 30.0)
    args.interval = args.interval or (10.0 if stream else 2.0)
    if args.smoke:
        args.couples, args.duration, args.warmup = [2], 3.0 if stream else 1.0, 0.5
        args.gunicorn, args.changed, args.workers = ["1x2"], 2, 1
        args.interval = 1.0 if stream else args.interval
    # `timeout` and friends send SIGTERM: leave through the `finally` that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 6 * max(args.couples) + 256
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    setup_django()
    from django.db import connection

    log = ROOT / "var" / f"bench-live-{'uvicorn' if stream else 'gunicorn'}.log"
    log.parent.mkdir(exist_ok=True)
    version = connection.cursor().connection.info.server_version
    redis = "Redis (REDIS_URL)" if os.environ.get("REDIS_URL") else "no Redis (local memory)"
    if stream:
        print(
            f"PostgreSQL {version}, {redis}, {os.cpu_count()} cores; streams under uvicorn "
            f"({args.workers} workers), a move every {args.interval:g} s per couple (partners "
            f"in turn), {args.duration:g} s measured after {args.warmup:g} s; "
            f"heartbeat {args.heartbeat} s; log: {log.relative_to(ROOT)}"
        )
        for couples in args.couples:
            run_stream_size(couples, args, log)
        return
    print(
        f"PostgreSQL {version}, {redis}, "
        f"{os.cpu_count()} cores, polls every {args.interval:g} s, {args.duration:g} s measured "
        f"after {args.warmup:g} s warm-up; gunicorn log: {log.relative_to(ROOT)}"
    )
    for text in args.gunicorn:
        workers, threads = size(text)
        label = f"{workers}x{threads}"
        print(f"gunicorn gthread, {workers} workers x {threads} threads:")
        for couples in args.couples:
            run_one(label, workers, threads, couples, args, log)


if __name__ == "__main__":
    main()
