"""Live-poll benchmark: N couples in a live exercise, both partners polling every 2 s.

    .venv/bin/python benchmarks/live.py [--couples 100 500] [--duration 30]
        [--gunicorn 2x8 4x4 ...]

For each gunicorn size (WORKERSxTHREADS, gthread workers) and each N, it
seeds a PostgreSQL database (``tend_bench_live`` unless DATABASE_URL names
another; created if missing, migrated, emptied) with N couples, each with an
active exercise session, logs both partners in (a session in the
``cached_db`` store with the same keys ``django.contrib.auth.login`` writes,
so the one-query poll can verify the session-auth hash), starts gunicorn with
production settings (DEBUG off, Redis as cache on db 8) on a free
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
loop is bounded in time; gunicorn is always stopped and the sessions made for
the run are deleted.

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
        "REDIS_URL": "redis://127.0.0.1:6379/8",
        "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        "LOG_LEVEL": "WARNING",
    }


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
                settings={"seconds": 120, "gentle": False},
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
        for user in (users[2 * i], users[2 * i + 1]):
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save(must_create=True)
            base = f"/exercises/s/{live.pk}/poll/?v="
            partners.append(
                Partner(f"{base}{live.version}", f"{base}{live.version - 1}", store.session_key)
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
    """One keep-alive HTTP/1.1 connection, as a browser tab keeps to its site."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, cookie: str) -> tuple[int, bytes]:
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


def size(text: str) -> tuple[int, int]:
    workers, _, threads = text.lower().partition("x")
    return int(workers), int(threads or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--couples", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds polled before measuring")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument(
        "--gunicorn",
        nargs="+",
        default=["2x8"],
        metavar="WORKERSxTHREADS",
        help="gunicorn sizes to run (gthread workers), e.g. 2x4 4x4 4x1",
    )
    parser.add_argument("--changed", type=int, default=20, help="changed-version polls to time")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny, seconds-long run that only shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.couples, args.duration, args.warmup = [2], 1.0, 0.5
        args.gunicorn, args.changed = ["1x2"], 2
    # `timeout` and friends send SIGTERM: leave through the `finally` that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * max(args.couples) + 256
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    setup_django()
    from django.db import connection

    log = ROOT / "var" / "bench-live-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    print(
        f"PostgreSQL {connection.cursor().connection.info.server_version}, "
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
