"""A real Celery worker in a thread, consuming from the configured broker.

The unit tests run tasks eagerly; these helpers turn that off for the length
of a test so that ``.delay()`` publishes to the broker (Redis when
``REDIS_URL`` is set, kombu's in-process memory transport otherwise) and the
worker thread picks the message up, as in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun

from config.celery import app

_SETTLE_SECONDS = 5.0


def _new_threads(before: set[threading.Thread]) -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t not in before and t.is_alive()}


class RunningWorker:
    """The worker, and the tasks it has finished so far (name, state), in order."""

    def __init__(self, worker) -> None:
        self.worker = worker
        self.finished: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def _on_task_postrun(self, sender=None, task=None, state=None, **kwargs) -> None:
        if getattr(task.request, "is_eager", False):
            return
        with self._changed:
            self.finished.append((task.name, state))
            self._changed.notify_all()

    def wait_for_tasks(self, count: int = 1, timeout: float = 10.0) -> list[tuple[str, str]]:
        """Wait until the worker has finished ``count`` tasks (whatever their outcome).

        A message reaching the SMTP server does not mean its task has finished:
        wait for this before reading what the task wrote to the database.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.finished) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"The worker finished {len(self.finished)} task(s) in {timeout} s, "
                        f"expected {count}: {self.finished}"
                    )
                self._changed.wait(remaining)
            return list(self.finished)


@contextmanager
def running_worker() -> Iterator[RunningWorker]:
    """Run a solo-pool worker until the block ends; fail if it leaves a thread behind.

    "Its" threads are those that appeared while it started (the worker thread
    and any it spawned), not ones that other code, such as a live server or
    Playwright, starts while the test runs.

    Celery's Django fixup closes the worker thread's database connections after
    each task (``CELERY_DB_REUSE_MAX`` is unset), so none outlives the test and
    PostgreSQL can drop the test database at the end of the run.
    """
    saved = {
        "task_always_eager": app.conf.task_always_eager,
        "broker_transport_options": app.conf.broker_transport_options,
        # Leave pytest's logging handlers alone.
        "worker_hijack_root_logger": app.conf.worker_hijack_root_logger,
    }
    before = set(threading.enumerate())
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False
    if app.conf.broker_url.startswith("memory://"):
        # The in-process transport polls once a second by default.
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "polling_interval": 0.05,
        }
    try:
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=10.0,
        ) as worker:
            started = _new_threads(before)
            running = RunningWorker(worker)
            task_postrun.connect(running._on_task_postrun, weak=False)
            try:
                yield running
            finally:
                task_postrun.disconnect(running._on_task_postrun)
    finally:
        app.conf.update(saved)
    deadline = time.monotonic() + _SETTLE_SECONDS
    while (leftover := [t for t in started if t.is_alive()]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftover, f"Celery worker left threads running: {leftover}"
