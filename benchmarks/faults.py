"""Fault benchmark: the reminder pipeline's faults at scale, on loopback only.

The same faults as tests/faults/, with real worker processes, a private
redis-server and an SMTP sink, at a larger scale (2,000 reminders by
default), several kill/restart cycles and a ten-minute simulated outage:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_faults \\
        .venv/bin/python benchmarks/faults.py [--reminders 2000] [--kills 4] [--only kill-random]

Without DATABASE_URL it uses a SQLite file, var/bench-faults.sqlite3. A
PostgreSQL database is created if missing; either is emptied before each
scenario (never point it at data you want to keep).

Prints, per scenario: reminders due, delivered, duplicates, lost, skipped,
and the time from the first tick until nothing is left to do. "Duplicates"
counts copies beyond the first at the SMTP server; "lost" counts reminders
neither sent nor skipped plus those marked sent that the server never got.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")
# Nothing here may touch a shared broker or cache: the private Redis comes later.
os.environ.pop("REDIS_URL", None)
os.environ["CELERY_BROKER_URL"] = "memory://"
SQLITE_FILE = ROOT / "var" / "bench-faults.sqlite3"

# Tick clocks and timeouts the tick (this process) uses; workers keep theirs.
REQUEUE_AFTER = timedelta(seconds=5)
STALE_SENDING = timedelta(seconds=10)
SETTLE_TIMEOUT = 300.0
SCENARIO_TIMEOUT = 900.0


from common import ensure_database  # noqa: E402 (benchmarks/ is the script's folder)


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        ensure_database(url)
    else:
        SQLITE_FILE.parent.mkdir(exist_ok=True)
        SQLITE_FILE.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


TABLES = [
    "rituals_reminderdelivery",
    "rituals_completion",
    "rituals_ritual_muted_by",
    "rituals_ritual",
    "couples_invitation",
    "couples_membership",
    "couples_couple",
    "account_emailaddress",
    "accounts_user",
]


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        else:
            for table in TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)


def seed(groups: list[tuple[str, datetime, int, int]], plan_from: datetime) -> None:
    """Per group (kind, occurrence, lead in minutes, couples): that many new couples,
    each with a daily ritual whose next occurrence, planned from ``plan_from``, is
    ``occurrence``."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from couples.models import Couple, Membership
    from rituals.models import Ritual
    from tests.faults.conftest import BERLIN

    total = sum(count for *_, count in groups)
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(email=f"p{n}@bench.tend", display_name=f"P{n}", password=password)
            for n in range(2 * total)
        ],
        batch_size=2000,
    )
    couples = Couple.objects.bulk_create(
        [Couple(time_zone="Europe/Berlin") for _ in range(total)], batch_size=2000
    )
    Membership.objects.bulk_create(
        [
            Membership(couple=couple, user=users[2 * i + seat - 1], seat=seat)
            for i, couple in enumerate(couples)
            for seat in (1, 2)
        ],
        batch_size=4000,
    )
    rituals = []
    for kind, occurrence, lead, count in groups:
        local = occurrence.astimezone(BERLIN)
        for n in range(count):
            ritual = Ritual(
                couple=couples[len(rituals)],
                title=f"{kind} {n}",
                rrule="FREQ=DAILY",
                start_date=local.date() - timedelta(days=2),
                start_time=local.time(),
                time_zone="Europe/Berlin",
                duration_minutes=15,
                reminder_lead_minutes=lead,
            )
            ritual.plan_next_reminder(plan_from)
            assert ritual.next_occurrence_at == occurrence
            rituals.append(ritual)
    Ritual.objects.bulk_create(rituals, batch_size=2000)


@dataclass
class Row:
    name: str
    due: int
    seconds: float
    outcome: object
    note: str = ""


class Bench:
    """The private Redis for the whole run; a sink and workers per scenario."""

    def __init__(self, workdir: Path, redis) -> None:
        self.workdir = workdir
        self.redis = redis
        from config.celery import app

        self.queue = app.conf.task_default_queue

    @contextmanager
    def scenario(self, *, workers: int, refuse_every: int = 0):
        from tests.faults.conftest import FaultSink, database_url, worker_environment

        with ExitStack() as stack:
            sink = FaultSink(refuse_every=refuse_every).start()
            stack.callback(sink.stop)
            env = worker_environment(
                broker=self.redis.url, smtp_port=sink.port, database=database_url()
            )
            started: list = []

            def start_worker():
                from tests.faults.conftest import WorkerProcess

                worker = WorkerProcess(f"b{len(started) + 1}", env, self.queue, self.workdir)
                started.append(worker.start())
                return worker

            def stop_all():
                for worker in started:
                    if worker.alive:
                        worker.process.terminate()
                for worker in started:
                    worker.stop()

            stack.callback(stop_all)
            running = [start_worker() for _ in range(workers)]
            yield SimpleNamespace(sink=sink, start_worker=start_worker, workers=running)

    def settle(self, quiet_for: float = 1.0) -> None:
        """Wait until the queue has been empty, and no row in flight, for ``quiet_for`` seconds.

        (A worker pops a task a moment before it claims its rows: one empty
        look could fall in between.)
        """
        from rituals.models import ReminderDelivery

        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet_since = None
        while True:
            busy = (
                self.redis.queued(self.queue) > 0
                or ReminderDelivery.objects.filter(status="sending").exists()
            )
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the workers did not settle in {SETTLE_TIMEOUT} s")
            time.sleep(0.1)


@contextmanager
def patched(module, **values):
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def minute_from_now(minutes: int) -> datetime:
    return now().replace(second=0, microsecond=0) + timedelta(minutes=minutes)


def finish(name: str, due: int, started: float, sink, note: str = "") -> Row:
    from tests.faults.conftest import outcome

    return Row(name, due, time.monotonic() - started, outcome(sink), note)


def drive(until: Callable[[], bool], clock: Callable[[], datetime] = now, pause=1.0) -> int:
    from tests.faults.conftest import drive as drive_ticks

    return drive_ticks(until, timeout=SCENARIO_TIMEOUT, clock=clock, pause=pause)


class WorkerClock:
    """Keep the workers' stamps in step with the tick's moved clock.

    A worker reads the real clock: a row it fails at real time t gets
    ``next_attempt_at`` = t + backoff, though on the tick's clock (running
    ``offset`` ahead) the failure happened at t + offset. Each failure is moved
    by the offset in force when it happened, once, so that backoffs count from
    the simulated failure, as they would if every clock had moved together.
    """

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}

    def catch_up(self, offset: timedelta) -> None:
        from django.db.models import F

        from rituals.models import ReminderDelivery

        fresh = []
        failed = ReminderDelivery.objects.filter(status="pending").exclude(attempts=0)
        for pk, attempts in failed.values_list("pk", "attempts"):
            if self.seen.get(pk) != attempts:
                self.seen[pk] = attempts
                fresh.append(pk)
        if fresh and offset:
            ReminderDelivery.objects.filter(pk__in=fresh).update(
                claimed_at=F("claimed_at") + offset, next_attempt_at=F("next_attempt_at") + offset
            )


def simulated_minutes(bench: Bench, *, until: Callable[[], bool], on_minute=None) -> int:
    """Tick once per simulated minute (settling the workers in between) until ``until()``."""
    from tests.faults.conftest import tick

    clock = WorkerClock()
    minute = 0
    while True:
        bench.settle()
        clock.catch_up(timedelta(minutes=minute))
        if until():
            return minute
        minute += 1
        if minute > 240:
            raise AssertionError("not done after 240 simulated minutes")
        if on_minute is not None:
            on_minute(minute)
        tick(now() + timedelta(minutes=minute))


# --- scenarios -----------------------------------------------------------------


def kill_random(bench: Bench, reminders: int, kills: int) -> Row:
    """Two workers; every reminders/(kills+1) messages a random one is SIGKILLed, wherever
    it is, and a fresh one started."""
    from rituals import dispatch
    from tests.faults.conftest import all_final, tick

    couples = reminders // 2
    seed([("walk", minute_from_now(40), 60, couples)], now() - timedelta(hours=1))
    rng = random.Random(11)
    done = 0
    with (
        patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER, STALE_SENDING=STALE_SENDING),
        bench.scenario(workers=2) as run,
    ):
        started = time.monotonic()
        tick()
        live = list(run.workers)
        last_tick = time.monotonic()
        while not (done == kills and all_final()):
            if time.monotonic() - started > SCENARIO_TIMEOUT:
                raise AssertionError("kill-random did not finish")
            threshold = (done + 1) * reminders // (kills + 1)
            if done < kills and len(run.sink.received) >= threshold:
                victim = rng.choice(live)
                time.sleep(rng.uniform(0, 0.25))  # a few messages on: anywhere in a send
                victim.kill()
                victim.wait_dead()
                live.remove(victim)
                live.append(run.start_worker())
                done += 1
            if time.monotonic() - last_tick >= 1:
                tick()
                last_tick = time.monotonic()
            time.sleep(0.02)
        return finish(f"worker SIGKILL x{done} (random)", reminders, started, run.sink)


def kill_at_acceptance(bench: Bench, reminders: int, kills: int) -> Row:
    """One worker, SIGKILLed each time the server has stored a message and not yet
    replied 250: the unclosable window, hit on purpose. Expect one duplicate per kill."""
    from rituals import dispatch
    from tests.faults.conftest import all_final, tick

    couples = reminders // 2
    seed([("walk", minute_from_now(40), 60, couples)], now() - timedelta(hours=1))
    every = reminders // (kills + 1)
    with (
        patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER, STALE_SENDING=STALE_SENDING),
        bench.scenario(workers=1) as run,
    ):
        current = {"worker": run.workers[0], "kills": 0}

        def kill(number: int) -> None:
            if current["kills"] < kills and number % every == 0:
                current["kills"] += 1
                current["worker"].kill()

        run.sink.handler.on_accepted = kill
        started = time.monotonic()
        tick()
        last_tick = time.monotonic()
        while not all_final() or not current["worker"].alive:
            if time.monotonic() - started > SCENARIO_TIMEOUT:
                raise AssertionError("kill-at-acceptance did not finish")
            if not current["worker"].alive:
                current["worker"].wait_dead()
                current["worker"] = run.start_worker()
            if time.monotonic() - last_tick >= 1:
                tick()
                last_tick = time.monotonic()
            time.sleep(0.02)
        return finish(
            f"worker SIGKILL x{current['kills']} at the 250",
            reminders,
            started,
            run.sink,
            "expected: one duplicate per kill",
        )


def crash_loop(bench: Bench, crashes: int) -> Row:
    """One reminder whose send kills the worker at the 250 every time, ``crashes`` times.

    Shows where the stale-sending reopen stops: each crash is one more copy,
    until MAX_ABANDONED crashes mark the row failed (or the ritual starts).
    """
    from rituals import dispatch
    from rituals.models import ReminderDelivery
    from tests.faults.conftest import all_final, tick

    seed([("walk", minute_from_now(40), 60, 1)], now() - timedelta(hours=1))
    stale = timedelta(seconds=3)
    with (
        patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER, STALE_SENDING=stale),
        bench.scenario(workers=1) as run,
    ):
        current = {"worker": run.workers[0], "kills": 0}
        victim = "p0@bench.tend"

        def kill(number: int) -> None:
            last = run.sink.received[-1]
            if current["kills"] < crashes and last.rcpt_tos == [victim]:
                current["kills"] += 1
                current["worker"].kill()

        run.sink.handler.on_accepted = kill
        started = time.monotonic()
        tick()
        while not all_final() or not current["worker"].alive:
            if time.monotonic() - started > SCENARIO_TIMEOUT:
                raise AssertionError("crash-loop did not finish")
            if not current["worker"].alive:
                current["worker"].wait_dead()
                current["worker"] = run.start_worker()
            tick()
            time.sleep(0.5)
        row = ReminderDelivery.objects.get(recipient__email=victim)
        note = (
            f"{current['kills']} crashes at the 250 on one reminder: {row.attempts} attempts, "
            f"{row.abandoned} abandoned (MAX_ABANDONED {dispatch.MAX_ABANDONED}), "
            f"ended {row.status}"
        )
        return finish("one reminder crashing every send", 2, started, run.sink, note)


def redis_flushed(bench: Bench, reminders: int) -> Row:
    """Dispatch with no worker running, FLUSHALL, then start two workers."""
    from rituals import dispatch
    from tests.faults.conftest import all_final, tick

    seed([("walk", minute_from_now(40), 60, reminders // 2)], now() - timedelta(hours=1))
    with (
        patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER),
        bench.scenario(workers=0) as run,
    ):
        started = time.monotonic()
        result = tick()
        queued = bench.redis.queued(bench.queue)
        bench.redis.flushall()
        run.start_worker()
        run.start_worker()
        ticks = drive(all_final)
        note = f"{len(result.queued)} queued in {queued} tasks, flushed; {ticks} ticks"
        return finish("Redis flushed before send", reminders, started, run.sink, note)


def redis_restarted(bench: Bench, reminders: int) -> Row:
    """Two workers sending; Redis restarted (empty) once a quarter has gone out."""
    from rituals import dispatch
    from tests.faults.conftest import all_final, tick, wait_until

    seed([("walk", minute_from_now(40), 60, reminders // 2)], now() - timedelta(hours=1))
    with (
        patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER, STALE_SENDING=STALE_SENDING),
        bench.scenario(workers=2) as run,
    ):
        started = time.monotonic()
        tick()
        wait_until(lambda: len(run.sink.received) >= reminders // 4, SETTLE_TIMEOUT, "a quarter")
        bench.redis.restart()
        at_restart = len(run.sink.received)
        ticks = drive(all_final)
        note = f"restarted after {at_restart} sent; {ticks} ticks"
        return finish("Redis restarted mid-send", reminders, started, run.sink, note)


def smtp_outage(bench: Bench, reminders: int, outage_minutes: int) -> Row:
    """The SMTP server refuses connections for ``outage_minutes`` simulated minutes."""
    from rituals import dispatch
    from rituals.models import ReminderDelivery
    from tests.faults.conftest import all_final, tick

    seed([("walk", minute_from_now(90), 120, reminders // 2)], now() - timedelta(hours=1))
    with (
        patched(dispatch, STALE_SENDING=timedelta(hours=6)),
        bench.scenario(workers=2) as run,
    ):
        run.sink.stop()
        started = time.monotonic()
        tick()

        def back_at_the_end_of_the_outage(minute: int) -> None:
            if minute == outage_minutes:
                run.sink.start()

        minute = simulated_minutes(bench, until=all_final, on_minute=back_at_the_end_of_the_outage)
        attempts = max(ReminderDelivery.objects.values_list("attempts", flat=True))
        note = f"{minute} simulated minutes; at most {attempts} attempts"
        return finish(
            f"SMTP down {outage_minutes} min (simulated)", reminders, started, run.sink, note
        )


def smtp_refuses_a_third(bench: Bench, reminders: int) -> Row:
    """Two workers against a server that answers 4xx to every third message."""
    from rituals import dispatch
    from rituals.models import ReminderDelivery
    from tests.faults.conftest import all_final, tick

    seed([("walk", minute_from_now(90), 120, reminders // 2)], now() - timedelta(hours=1))
    with (
        patched(dispatch, STALE_SENDING=timedelta(hours=6)),
        bench.scenario(workers=2, refuse_every=3) as run,
    ):
        started = time.monotonic()
        tick()
        minute = simulated_minutes(bench, until=all_final)
        attempts = max(ReminderDelivery.objects.values_list("attempts", flat=True))
        note = f"{run.sink.refused} refused; at most {attempts} attempts; {minute} sim. minutes"
        return finish("SMTP 4xx for a third", reminders, started, run.sink, note)


def beat_stopped(bench: Bench, reminders: int, outage_minutes: int) -> Row:
    """Beat stopped for ``outage_minutes`` (simulated on the tick's clock); workers keep going."""
    import time_machine

    from rituals.models import ReminderDelivery
    from tests.faults.conftest import all_final, rows_settled, tick, wait_until

    restart = minute_from_now(0)
    minute = timedelta(minutes=1)
    quarter = reminders // 8  # couples per kind
    last = restart - outage_minutes * minute
    groups = [
        ("due before", restart + 8 * minute, outage_minutes + 10, quarter),
        ("started during", restart - 7 * minute, 0, quarter),  # beyond START_GRACE
        ("due during", restart + 6 * minute, 15, quarter),
        ("due after", restart + 30 * minute, 15, quarter),
    ]
    assert restart - 9 * minute > last, "the outage must cover the 'during' reminders"
    seed(groups, last - timedelta(hours=1))
    with bench.scenario(workers=2) as run:
        started = time.monotonic()
        for minutes_before in (3, 2, 1, 0):
            with time_machine.travel(last - minutes_before * minute, tick=False):
                tick()
        wait_until(rows_settled, SETTLE_TIMEOUT, "the reminders due before the outage")
        with time_machine.travel(restart, tick=False):
            result = tick()
        drive(all_final)
        late = ReminderDelivery.objects.filter(ritual__title__startswith="due during").count()
        note = f"{result.skipped} occurrences skipped, {late} sent late"
        return finish(
            f"beat stopped {outage_minutes} min (simulated)",
            reminders - 2 * quarter,  # the "due after" ones aren't due
            started,
            run.sink,
            note,
        )


def db_dropped(bench: Bench, reminders: int) -> Row:
    """The connection dropped right before COMMIT of the dispatch's second batch."""
    from django.db import Error, transaction

    from rituals import dispatch
    from rituals.models import ReminderDelivery
    from tests.faults.conftest import all_final, drop_connection, tick

    couples = reminders // 2
    seed([("walk", minute_from_now(40), 60, couples)], now() - timedelta(hours=1))
    batch = max(couples // 3, 1)
    calls = []

    def cut_on_second(func, using=None, robust=False):
        calls.append(1)
        if len(calls) == 2:
            drop_connection()
        transaction.on_commit(func, using=using, robust=robust)

    shim = SimpleNamespace(atomic=transaction.atomic, on_commit=cut_on_second)
    with bench.scenario(workers=2) as run:
        started = time.monotonic()
        with patched(dispatch, BATCH_SIZE=batch, transaction=shim):
            try:
                tick()
            except Error:
                pass
            else:
                raise AssertionError("the tick survived a dropped connection")
        kept = ReminderDelivery.objects.count()
        drive(all_final)
        note = f"batches of {batch} rituals; {kept} rows survived the failed tick"
        return finish("DB connection dropped in dispatch", reminders, started, run.sink, note)


def db_restarted(bench: Bench, reminders: int, restarts: int) -> Row:
    """PostgreSQL restarted ``restarts`` times while two workers send: half of them
    right after the SMTP server stored a message and before its 250 (the worker's
    "mark sent" then meets a dead connection), half at random moments.

    The database is a private cluster made for the scenario (the shared server
    must never be restarted): this process and the workers are pointed at it,
    whatever DATABASE_URL says.
    """
    import threading

    from django.core.management import call_command
    from django.db import Error, connection

    from rituals import dispatch
    from tests.faults.conftest import (
        PrivatePostgres,
        all_final,
        default_database,
        tick,
        wait_until,
    )

    def survive(step):
        try:
            return step()
        except Error:  # cut off by a restart: the next try gets a new connection
            connection.close()
            return None

    def retries_logged() -> int:
        return sum(
            log.read_text(errors="replace").count("recording the send failed")
            for log in bench.workdir.glob("worker-*.log")
        )

    at_250 = restarts // 2
    at_random = restarts - at_250
    every = reminders // (at_250 + 1)
    rng = random.Random(5)
    took: list[float] = []
    server = PrivatePostgres().start()

    def restart(mode: str) -> None:
        begun = time.monotonic()
        server.restart(mode)
        took.append(time.monotonic() - begun)

    try:
        with default_database(server.url):
            call_command("migrate", verbosity=0)
            seed([("walk", minute_from_now(40), 60, reminders // 2)], now() - timedelta(hours=1))
            retries_before = retries_logged()
            with (
                patched(dispatch, REQUEUE_AFTER=REQUEUE_AFTER, STALE_SENDING=STALE_SENDING),
                bench.scenario(workers=2) as run,
            ):
                done_250: list[int] = []

                def before_the_250(number: int) -> None:
                    if number % every == 0 and len(done_250) < at_250:
                        restart(("fast", "immediate")[len(done_250) % 2])
                        done_250.append(number)

                def at_random_moments() -> None:
                    for n in range(at_random):
                        threshold = (2 * n + 1) * reminders // (2 * at_random)
                        wait_until(lambda t=threshold: len(run.sink.received) >= t, 600, "sends")
                        time.sleep(rng.uniform(0, 0.25))
                        restart(rng.choice(["fast", "immediate"]))

                run.sink.handler.on_accepted = before_the_250
                restarter = threading.Thread(target=at_random_moments, daemon=True)
                started = time.monotonic()
                tick()
                restarter.start()
                last_tick = time.monotonic()
                while not survive(lambda: not restarter.is_alive() and all_final()):
                    if time.monotonic() - started > SCENARIO_TIMEOUT:
                        raise AssertionError("db-restarted did not finish")
                    if time.monotonic() - last_tick >= 1:
                        survive(tick)
                        last_tick = time.monotonic()
                    time.sleep(0.05)
                note = (
                    f"{len(took)} restarts ({len(done_250)} before a 250, "
                    f"{len(took) - len(done_250)} at random), each {min(took):.2f}-"
                    f"{max(took):.2f} s; mark retried {retries_logged() - retries_before}x"
                )
                return finish(
                    f"PostgreSQL restarted x{len(took)}", reminders, started, run.sink, note
                )
    finally:
        server.stop()


# --- the web with Redis out (not the reminder pipeline: prints its own table) ---------------

WEB_PAGES = ("dashboard", "ritual", "poll")


def web_without_redis(bench: Bench, couples: int, clients: int, seconds: float) -> None:
    """gunicorn (4 workers x 4 threads, production settings) on the private Redis; ``clients``
    logged-in partners load the dashboard, a ritual page and an exercise poll back to back
    while Redis is up, stopped, frozen (SIGSTOP); then how long after Redis is back every
    worker uses it again."""
    import statistics
    import threading

    from django.contrib.sessions.models import Session as LoginSession

    from couples.models import Couple
    from exercises import engine
    from exercises.models import Session
    from rituals.models import Ritual
    from tests.faults.conftest import database_url, wait_until
    from tests.faults.web import Browser, WebServer, sign_in, web_environment

    seed([("walk", minute_from_now(40), 60, couples)], now() - timedelta(hours=1))
    people = []
    for couple in Couple.objects.prefetch_related("memberships__user")[:clients]:
        membership = couple.memberships.all()[0]
        exercise = engine.start(couple, membership.user, 1, "eye_gazing", "two_devices", {})
        ritual = Ritual.objects.filter(couple=couple).first()
        people.append((membership.user, ritual.pk, exercise.pk, exercise.version))
    env = web_environment(redis_url=bench.redis.url, database=database_url()) | {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SMTP_HOST": "127.0.0.1",
    }
    # Production static files (a manifest), collected with the web's own settings.
    manage = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(manage, cwd=ROOT, env=env, check=True)
    server = WebServer(env, bench.workdir, workers=4, threads=4).start()
    browsers = []
    for user, ritual, exercise, version in people:
        browser = Browser(server.port)
        sign_in(browser, user)
        paths = {
            "dashboard": "/",
            "ritual": f"/rituals/{ritual}/",
            "poll": f"/exercises/s/{exercise}/poll/?v={version}",
        }
        browsers.append((browser, paths))

    def phase(name: str) -> None:
        timings = {page: [] for page in WEB_PAGES}
        errors = []
        end = time.monotonic() + seconds

        def person(browser, paths) -> None:
            while time.monotonic() < end:
                for page in WEB_PAGES:
                    try:
                        reply = browser.get(paths[page], timeout=60)
                    except OSError as error:
                        errors.append(f"{page}: {type(error).__name__}")
                        continue
                    timings[page].append(reply.seconds)
                    if reply.status >= 500:
                        errors.append(str(reply))

        threads = [threading.Thread(target=person, args=pair) for pair in browsers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for page in WEB_PAGES:
            values = sorted(timings[page]) or [0.0]
            p95 = values[int(0.95 * (len(values) - 1))]
            print(
                f"  {name:15} {page:10} {len(values):6} {statistics.median(values) * 1000:7.1f}"
                f" {p95 * 1000:7.1f} {values[-1] * 1000:7.1f}",
                flush=True,
            )
        print(f"  {name:15} 5xx or no answer: {len(errors)} {errors[:3]}", flush=True)

    def back_in_use() -> float:
        """Seconds until /healthz says ok 12 times in a row (every worker uses Redis again)."""
        started = time.monotonic()
        streak = 0

        def ok() -> bool:
            nonlocal streak
            healthy = Browser(server.port).get("/healthz").json()["status"] == "ok"
            streak = streak + 1 if healthy else 0
            return streak >= 12

        wait_until(ok, 60, "every worker to use Redis again", pause=0.02)
        return time.monotonic() - started

    try:
        print(
            f"web: {clients} partners back to back, {seconds:.0f} s per phase, gunicorn 4x4 "
            f"gthread, Redis timeouts {env.get('REDIS_TIMEOUT_MS', '250')} ms"
        )
        print(f"  {'phase':15} {'page':10} {'reqs':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        phase("Redis up")
        bench.redis.stop()
        phase("Redis stopped")
        bench.redis.start()
        print(f"  back in use {back_in_use():.2f} s after Redis started again", flush=True)
        phase("Redis up again")
        bench.redis.pause()
        phase("Redis frozen")
        bench.redis.resume()
        print(f"  back in use {back_in_use():.2f} s after Redis thawed", flush=True)
        phase("Redis thawed")
    finally:
        bench.redis.resume()
        server.stop()
        LoginSession.objects.all().delete()
        Session.objects.all().delete()


SCENARIOS = [
    "kill-random",
    "kill-at-250",
    "redis-flushed",
    "redis-restarted",
    "smtp-outage",
    "smtp-4xx",
    "beat-stopped",
    "db-dropped",
    "crash-loop",
    "db-restarted",
    "web",
]


def _exit_on_sigterm(signum, frame) -> None:
    # Turn ``timeout``/``kill`` into SystemExit so every worker and the Redis are stopped.
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGHUP, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--outage-minutes", type=int, default=10)
    parser.add_argument("--crashes", type=int, default=8, help="crash-loop: crashes in a row")
    parser.add_argument("--restarts", type=int, default=10, help="db-restarted: restarts")
    parser.add_argument("--web-clients", type=int, default=16, help="web: partners at once")
    parser.add_argument("--web-seconds", type=float, default=10, help="web: seconds per phase")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny, seconds-long run that only shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    if args.smoke:  # every scenario, few reminders, shorter waits
        global REQUEUE_AFTER, STALE_SENDING
        args.reminders, args.kills, args.crashes = 10, 1, 1
        args.restarts, args.web_clients, args.web_seconds = 2, 2, 1
        REQUEUE_AFTER, STALE_SENDING = timedelta(seconds=2), timedelta(seconds=4)
    setup_django()

    from django.db import connection

    from tests.faults.conftest import PrivateRedis, point_celery_at

    workdir = ROOT / "var" / "bench-faults"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = PrivateRedis(workdir).start()
    try:
        point_celery_at(redis.url)
        bench = Bench(workdir, redis)
        run = {
            "kill-random": lambda: kill_random(bench, args.reminders, args.kills),
            "kill-at-250": lambda: kill_at_acceptance(bench, args.reminders, args.kills),
            "redis-flushed": lambda: redis_flushed(bench, args.reminders),
            "redis-restarted": lambda: redis_restarted(bench, args.reminders),
            "smtp-outage": lambda: smtp_outage(bench, args.reminders, args.outage_minutes),
            "smtp-4xx": lambda: smtp_refuses_a_third(bench, args.reminders),
            "beat-stopped": lambda: beat_stopped(bench, args.reminders, args.outage_minutes),
            "db-dropped": lambda: db_dropped(bench, args.reminders),
            "crash-loop": lambda: crash_loop(bench, args.crashes),
            "db-restarted": lambda: db_restarted(bench, args.reminders, args.restarts),
        }
        print(
            f"{connection.vendor}, {args.reminders} reminders per scenario, "
            f"tick's REQUEUE_AFTER {REQUEUE_AFTER.seconds} s, STALE_SENDING "
            f"{STALE_SENDING.seconds} s (where patched), workers logs in {workdir}"
        )
        header = f"{'scenario':40} {'due':>5} {'deliv.':>6} {'dupl.':>5} {'lost':>4}"
        print(f"{header} {'skip.':>5} {'time':>7}  notes")
        for name in args.only:
            reset()
            redis.flushall()
            if name == "web":
                web_without_redis(
                    bench, 10 if args.smoke else 200, args.web_clients, args.web_seconds
                )
                continue
            row = run[name]()
            o = row.outcome
            print(
                f"{row.name:40} {row.due:5} {o.delivered:6} {o.duplicates:5} {o.lost:4} "
                f"{o.skipped:5} {row.seconds:6.1f}s  {row.note}"
                + (f" UNEXPECTED {o.unexpected}" if o.unexpected else ""),
                flush=True,
            )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
