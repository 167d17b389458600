"""Redis emptied between dispatch and send: the triggers are gone, the outbox is not.

PostgreSQL (or SQLite here) holds every delivery; Redis only carries "send
these now". Whatever Redis loses, the tick re-queues pending rows whose
trigger did not run within REQUEUE_AFTER.

Two ways to lose them:

- flushed: the tick queued its sends while no worker ran, then Redis was
  emptied (FLUSHALL) before a worker came;
- restarted: Redis went down under a running worker; the tick committed its
  rows but could not queue their sends (logged; the tick carries on), and
  Redis came back empty. The worker reconnects by itself.

Some rituals were dispatched five minutes before they start and started
more than ``START_GRACE`` (5 min) before their re-queued trigger reaches a
worker: those are skipped, not sent late (the send step's rule, read on the
worker's own clock).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from config.celery import app
from rituals import dispatch
from rituals.models import ReminderDelivery, Ritual
from tests.faults.conftest import (
    all_final,
    couple_with_ritual,
    drive,
    outcome,
    rituals_due_now,
    tick,
    whole_minute,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status


def rituals_that_start_while_redis_is_out(count: int) -> list:
    """Rituals whose occurrence is a minute more than START_GRACE ago by the real
    clock, reminder 15 minutes before."""
    occurrence = whole_minute(timezone.now()) - dispatch.START_GRACE - timedelta(minutes=1)
    with transaction.atomic():
        return [
            couple_with_ritual(occurrence - timedelta(hours=1), occurrence, 15, f"Tea {n}")
            for n in range(count)
        ]


@pytest.mark.parametrize("loss", ["flushed", "restarted"])
def test_triggers_lost_with_redis_are_rebuilt_and_each_reminder_goes_out_once(
    loss, broker, start_worker, sink, fast_recovery
):
    rituals_due_now(10, lead=25)  # due when the tick ran, 11 minutes ago
    started = rituals_that_start_while_redis_is_out(3)
    # The tick ran five minutes ago, before any of them had started.
    dispatched_at = started[0].next_occurrence_at - timedelta(minutes=5)
    queue = app.conf.task_default_queue

    if loss == "flushed":
        with time_machine.travel(dispatched_at, tick=False):
            result = tick()
        assert len(result.queued) == 26
        assert broker.queued(queue) == 2  # two send tasks wait for a worker that isn't there
        broker.flushall()
        worker = start_worker()
    else:
        worker = start_worker().wait_ready()
        broker.stop()
        with time_machine.travel(dispatched_at, tick=False):
            # The rows are committed; queuing their sends fails, is logged,
            # and the tick goes on (on_commit robust=True).
            result = tick()
        assert len(result.queued) == 26
        broker.start()

    # Nothing is queued, and every row is still pending: only the outbox remembers them.
    assert broker.queued(queue) == 0
    assert set(ReminderDelivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert ReminderDelivery.objects.count() == 26
    # …and every ritual has moved on to tomorrow's occurrence.
    assert not Ritual.objects.filter(next_reminder_at__lte=timezone.now()).exists()

    drive(all_final, timeout=40)
    assert worker.alive

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 20, Status.SKIPPED: 6}, final.statuses
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (20, 0, 0, 0)
    assert set(
        ReminderDelivery.objects.filter(ritual__in=started).values_list("status", "last_error")
    ) == {(Status.SKIPPED, "the ritual had already started")}
