"""Fault injection for the reminder pipeline: the real pieces, each ours to break.

- ``PrivateRedis``: a ``redis-server`` of our own on a free loopback port, so
  flushing, stopping and restarting it disturbs nobody else's broker.
- ``PrivatePostgres``: a PostgreSQL cluster of our own (``initdb`` in a
  temporary directory, a free loopback port), to restart under running
  workers without touching the shared server; ``on_private_postgres`` points
  this process and the workers at it.
- ``WorkerProcess``: ``celery -A config worker --pool=solo`` as a separate
  process against the test database, so it can be killed with SIGKILL like a
  real one. It reads the real clock and the app's real timeouts; the tick runs
  here, in the test process, where ``REQUEUE_AFTER``/``STALE_SENDING`` may be
  shortened and the clock moved.
- ``FaultSink``: the test SMTP server, which can also stop and come back on
  the same port, answer 4xx to every n-th message, and call a hook at the
  instant a message is (or is about to be) accepted.
- ``outcome()``: what the outbox and the sink say together: delivered,
  duplicates, lost, skipped.

``benchmarks/faults.py`` imports these helpers to run the same faults at scale.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from kombu import pools

from config.celery import app
from rituals import dispatch
from rituals.models import ReminderDelivery, Ritual
from tests.factories import UserFactory, make_couple, make_ritual
from tests.mailsink import TEMPORARY_FAILURE, MailSink, _Handler
from tests.services import (  # noqa: F401 (benchmarks/faults.py imports them from here)
    PrivatePostgres,
    PrivateRedis,
    _end,
    _tail,
    postgres_bindir,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
Status = ReminderDelivery.Status
FINAL = {Status.SENT, Status.SKIPPED, Status.FAILED}
BERLIN = ZoneInfo("Europe/Berlin")


@contextmanager
def default_database(url: str) -> Iterator[None]:
    """Point this process's default database at ``url`` for a while.

    This thread gets a new connection object; other threads' new connections
    read the same settings. The old connection is put back afterwards.
    """
    import dj_database_url

    saved_settings = connections.settings["default"]
    saved = connections["default"]
    configured = connections.configure_settings({"default": dj_database_url.parse(url)})
    connections.settings["default"] = configured["default"]
    connections["default"] = connections.create_connection("default")
    try:
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = saved_settings
        connections["default"] = saved


def point_celery_at(url: str | None) -> None:
    """Publish to ``url`` from now on: drop every pooled broker connection of this process.

    Celery reads ``CELERY_BROKER_URL`` from the environment before its own
    setting, so that is set too (``None`` removes it).
    """
    if url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = url
        app.conf.broker_url = url
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


# --- the worker -----------------------------------------------------------


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    params = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(params["USER"] or "postgres")
        if params["PASSWORD"]:
            auth += ":" + quote(params["PASSWORD"])
        host = params["HOST"] or "127.0.0.1"
        return f"postgres://{auth}@{host}:{params['PORT'] or 5432}/{quote(params['NAME'])}"
    name = str(params["NAME"])
    if connection.vendor != "sqlite" or name == ":memory:" or "mode=memory" in name:
        raise RuntimeError(f"a worker process cannot share this database: {name}")
    return "sqlite:///" + str(Path(name).resolve())


def worker_environment(*, broker: str, smtp_port: int, database: str) -> dict[str, str]:
    """What a worker process reads: nothing from the caller's services but the database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "CELERY_", "SMTP_", "DATABASE_", "TEST_DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        DATABASE_URL=database,
        DB_CONN_MAX_AGE="0",
        CELERY_BROKER_URL=broker,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_TIMEOUT="5",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


class WorkerProcess:
    """``celery worker --pool=solo`` in its own process (and session), logging to a file."""

    def __init__(self, name: str, env: dict[str, str], queue: str, logdir: Path) -> None:
        self.name = name
        self.env = env
        self.queue = queue
        self.log = logdir / f"worker-{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"),
                    *("-Q", self.queue, "-n", f"{self.name}@%h", "-l", "info"),
                    *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 30) -> WorkerProcess:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{_tail(self.log)}")
            return self.log.exists() and " ready." in self.log.read_text(errors="replace")

        wait_until(ready, timeout, f"worker {self.name} to be ready", pause=0.1)
        return self

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, no cleanup, as when the OOM killer or a host dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP: the process freezes mid-step, as in a VM or container pause."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def wait_dead(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it doesn't finish in time."""
        if self.process is not None:
            _end(self.process, signal.SIGTERM, grace=15)

    def tail(self) -> str:
        return _tail(self.log)


# --- the SMTP server ------------------------------------------------------


@dataclass
class FaultHandler(_Handler):
    """The sink's handler, plus refusals of every n-th message and hooks around acceptance.

    Messages are numbered at RCPT (Tend sends one recipient per message).
    ``on_rcpt(number)`` runs before the server has the message (a reply it
    returns, such as a 4xx, answers the RCPT instead of 250);
    ``on_accepted(number)`` runs after it has stored it and before it replies
    250: a sender that dies inside that hook has had its message delivered
    without ever learning so.
    """

    refuse_every: int = 0
    seen: int = 0
    on_rcpt: Callable[[int], str | None] | None = None
    on_accepted: Callable[[int], None] | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        with self.changed:
            self.seen += 1
            number = envelope.tend_number = self.seen
            refuse = self.refuse_every and number % self.refuse_every == 0
            # Alternate where the 4xx comes: RCPT (SMTPRecipientsRefused) and DATA (SMTPDataError).
            envelope.tend_refuse_at_data = refuse and (number // self.refuse_every) % 2 == 0
            if refuse and not envelope.tend_refuse_at_data:
                self.refused += 1
                self.changed.notify_all()
                return "450 4.2.1 Mailbox busy, try again later"
        reply = self.on_rcpt(number) if self.on_rcpt is not None else None
        if reply is not None:
            with self.changed:
                self.refused += 1
                self.changed.notify_all()
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if getattr(envelope, "tend_refuse_at_data", False):
            with self.changed:
                self.refused += 1
                self.changed.notify_all()
            return TEMPORARY_FAILURE
        reply = await super().handle_DATA(server, session, envelope)
        if self.on_accepted is not None and reply.startswith("250"):
            self.on_accepted(envelope.tend_number)
        return reply


class FaultSink(MailSink):
    """A ``MailSink`` that can go down and come back on the same port, keeping what it received."""

    def __init__(self, *, refuse_every: int = 0) -> None:
        super().__init__()
        self._handler = FaultHandler(refuse_every=refuse_every)

    @property
    def handler(self) -> FaultHandler:
        return self._handler

    def start(self) -> FaultSink:
        if not self.port:
            super().start()
            return self
        # Back on the port the workers know; it may linger a moment after stop().
        deadline = time.monotonic() + 10
        while True:
            controller = Controller(self._handler, hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            self._controller = controller
            return self

    @property
    def running(self) -> bool:
        return self._controller is not None

    def keys(self) -> Counter[tuple[str, str]]:
        """How many copies of each (recipient, subject) arrived."""
        return Counter((item.rcpt_tos[0], str(item.message["Subject"])) for item in self.received)


# --- scenario helpers ------------------------------------------------------


def couple_with_ritual(now: datetime, occurrence: datetime, lead: int, title: str) -> Ritual:
    """A new couple (two new partners) with a daily ritual at ``occurrence``'s wall-clock time.

    The ritual is planned from ``now``: its next occurrence is ``occurrence``
    as long as that is within a day after ``now``.
    """
    couple = make_couple(UserFactory(), UserFactory())
    local = occurrence.astimezone(BERLIN)
    assert local.second == local.microsecond == 0, "occurrences fall on whole minutes"
    ritual = make_ritual(
        couple,
        now=now,
        title=title,
        start_date=local.date() - timedelta(days=2),
        start_time=local.time(),
        time_zone="Europe/Berlin",
        reminder_lead_minutes=lead,
    )
    assert ritual.next_occurrence_at == occurrence, (ritual.next_occurrence_at, occurrence)
    return ritual


def whole_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def rituals_due_now(count: int, *, starts_in: int = 10, lead: int = 15, prefix="Walk") -> list:
    """``count`` couples whose ritual starts in about ``starts_in`` minutes (real clock),
    with a ``lead`` long enough that the reminder is due now.

    The worker process reads the real clock and skips an occurrence that has
    started, so the occurrence must stay ahead of it for the whole test.
    """
    now = timezone.now()
    occurrence = whole_minute(now) + timedelta(minutes=starts_in)
    assert occurrence - timedelta(minutes=lead) <= now < occurrence - timedelta(minutes=2)
    with transaction.atomic():
        return [
            couple_with_ritual(now - timedelta(hours=1), occurrence, lead, f"{prefix} {n}")
            for n in range(count)
        ]


def drop_connection() -> None:
    """Lose this process's database connection mid-transaction, as a network cut would.

    PostgreSQL: the server ends our backend (from a second connection, waiting
    until it is gone). SQLite has no server: the handle is closed under
    Django, which discards the open transaction the same way.
    """
    if connection.vendor == "postgresql":
        backend = connection.connection.info.backend_pid
        params = connection.settings_dict
        with psycopg.connect(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            password=params["PASSWORD"] or None,
            dbname=params["NAME"],
            autocommit=True,
        ) as admin:
            ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", [backend]).fetchone()
        assert ended == (True,)
    else:
        connection.connection.close()


def tick(now: datetime | None = None) -> dispatch.TickResult:
    """One beat tick, in this process (where the module's timeouts may be patched)."""
    return dispatch.dispatch_due_reminders(now)


def open_rows() -> int:
    return ReminderDelivery.objects.exclude(status__in=FINAL).count()


def drive(
    until: Callable[[], bool],
    *,
    timeout: float,
    clock: Callable[[], datetime] = timezone.now,
    pause: float = 0.3,
) -> int:
    """Run the beat tick every ``pause`` seconds until ``until()`` holds; return the ticks run."""
    deadline = time.monotonic() + timeout
    ticks = 0
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not settled after {timeout} s and {ticks} ticks: "
                f"{dict(Counter(ReminderDelivery.objects.values_list('status', flat=True)))}"
            )
        tick(clock())
        ticks += 1
        time.sleep(pause)
    return ticks


def rows_settled() -> bool:
    """Every row written so far is sent, skipped or failed."""
    return ReminderDelivery.objects.exists() and open_rows() == 0


def all_final() -> bool:
    """Nothing left to do: every row sent, skipped or failed, and no ritual due."""
    due = Ritual.objects.filter(is_active=True, next_reminder_at__lte=timezone.now())
    return rows_settled() and not due.exists()


def expected_subject(delivery: ReminderDelivery) -> str:
    local = delivery.occurrence_at.astimezone(delivery.recipient.zone)
    return f"{delivery.ritual.title} at {local:%H:%M}"


@dataclass
class Outcome:
    """The outbox and the SMTP server, read together."""

    rows: int = 0
    statuses: Counter = field(default_factory=Counter)
    delivered: int = 0  # sent rows whose message reached the server
    duplicates: int = 0  # copies beyond the first, over all messages
    lost: int = 0  # rows not sent or skipped, plus sent rows the server never got
    unexpected: int = 0  # messages for skipped rows, or for no row at all
    duplicated: list[tuple[str, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.statuses[Status.SKIPPED]

    def line(self) -> str:
        return (
            f"delivered {self.delivered}, duplicates {self.duplicates}, lost {self.lost}, "
            f"skipped {self.skipped}, unexpected {self.unexpected}"
        )


def outcome(sink: FaultSink) -> Outcome:
    received = sink.keys()
    result = Outcome()
    wanted: set[tuple[str, str]] = set()
    skipped: set[tuple[str, str]] = set()
    for delivery in ReminderDelivery.objects.select_related("ritual", "recipient"):
        key = (delivery.recipient.email, expected_subject(delivery))
        result.rows += 1
        result.statuses[delivery.status] += 1
        if delivery.status == Status.SENT:
            wanted.add(key)
            if received[key]:
                result.delivered += 1
            else:
                result.lost += 1
        elif delivery.status == Status.SKIPPED:
            skipped.add(key)
        else:
            result.lost += 1
    for key, copies in received.items():
        if key not in wanted:
            result.unexpected += copies
            continue
        if copies > 1:
            result.duplicates += copies - 1
            result.duplicated.append(key)
    return result


# --- fixtures --------------------------------------------------------------


@pytest.fixture
def fault_dir(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def private_redis(fault_dir) -> Iterator[PrivateRedis]:
    server = PrivateRedis(fault_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(private_redis, settings) -> Iterator[PrivateRedis]:
    """This process publishes to the private Redis, for real (no eager tasks)."""
    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    settings.CELERY_BROKER_URL = private_redis.url
    app.conf.task_always_eager = False
    point_celery_at(private_redis.url)
    try:
        yield private_redis
    finally:
        app.conf.task_always_eager = saved["task_always_eager"]
        app.conf.broker_url = saved["broker_url"]
        point_celery_at(saved_env)


@pytest.fixture
def sink() -> Iterator[FaultSink]:
    server = FaultSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres(transactional_db) -> Iterator[PrivatePostgres]:
    """A migrated private PostgreSQL cluster, and this process's default database
    pointed at it for the test (workers started by ``start_worker`` follow).
    Whatever database the suite runs on, SQLite included."""
    server = PrivatePostgres().start()
    try:
        with default_database(server.url):
            call_command("migrate", verbosity=0)
            yield server
    finally:
        server.stop()


@pytest.fixture
def fast_recovery(monkeypatch) -> None:
    """Lost triggers are re-queued after 1 s and abandoned sends reopened after 3 s (this
    process's tick only: the worker's timeouts don't matter to recovery)."""
    monkeypatch.setattr(dispatch, "REQUEUE_AFTER", timedelta(seconds=1))
    monkeypatch.setattr(dispatch, "STALE_SENDING", timedelta(seconds=3))


@pytest.fixture
def start_worker(
    transactional_db, broker, sink, fault_dir
) -> Iterator[Callable[[], WorkerProcess]]:
    """Start worker processes on demand; every one is stopped when the test ends.

    Depends on the database, broker and sink so that they outlive the workers.
    """
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        # Read now: the test may have pointed this process at another database.
        env = worker_environment(broker=broker.url, smtp_port=sink.port, database=database_url())
        worker = WorkerProcess(f"w{len(started) + 1}", env, app.conf.task_default_queue, fault_dir)
        started.append(worker.start())
        return worker

    try:
        yield start
    finally:
        # SIGKILL: a warm shutdown waits out the broker poll (a second or
        # more per test), and by now nothing the worker could still do matters.
        for worker in started:
            worker.kill()
        for worker in started:
            worker.wait_dead()


@pytest.fixture
def queue_drained(broker) -> Callable[[], bool]:
    return lambda: broker.queued(app.conf.task_default_queue) == 0
