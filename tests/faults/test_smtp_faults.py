"""The SMTP server down for a while, and one that answers 4xx to a third of the messages.

A refused connection or a 4xx reply is transient: the send step puts the row
back to pending with ``next_attempt_at`` = now + backoff (1, 2, 4… minutes)
and the tick re-queues it once that time has come. The tick's clock is moved
forward here (the worker's stays real, and the rituals start an hour from
now, so nothing is skipped); ``STALE_SENDING`` is set far beyond the moved
clock so that no send in progress looks abandoned.

The worker stamps ``next_attempt_at`` from its real clock, so on the tick's
moved clock a row comes due early, never late: each tick is placed where the
backoff would end had both clocks moved together.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from rituals import dispatch
from rituals.models import ReminderDelivery
from tests.faults.conftest import (
    all_final,
    drive,
    outcome,
    rituals_due_now,
    tick,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status


@pytest.fixture(autouse=True)
def no_stale_sends(monkeypatch):
    monkeypatch.setattr(dispatch, "STALE_SENDING", timedelta(hours=6))


def ahead_by(minutes: float):
    """A tick clock running ``minutes`` ahead of the real one."""
    return lambda: timezone.now() + timedelta(minutes=minutes)


def settled(attempts: int) -> bool:
    """Every row is back to pending after its ``attempts``-th try (nothing in flight)."""
    rows = ReminderDelivery.objects.all()
    return rows.exists() and all(
        row.status == Status.PENDING and row.attempts == attempts for row in rows
    )


def every_row_tried_once() -> bool:
    rows = ReminderDelivery.objects
    return rows.exists() and not rows.filter(Q(attempts=0) | Q(status=Status.SENDING)).exists()


def test_smtp_down_then_back_sends_each_reminder_once_after_backoff(start_worker, sink):
    rituals_due_now(10, starts_in=60, lead=120)
    sink.stop()  # connection refused from now on
    start_worker()

    tick()
    wait_until(lambda: settled(1), 30, "the first attempts to fail")
    for row in ReminderDelivery.objects.all():
        assert "Connection refused" in row.last_error
        assert row.next_attempt_at - row.claimed_at == dispatch.backoff(1)

    # The backoff holds: a tick now re-queues nothing; one a minute later, everything.
    assert tick().requeued == 0
    assert tick(ahead_by(1.1)()).requeued == 20
    wait_until(lambda: settled(2), 30, "the second attempts to fail")
    assert all(
        row.next_attempt_at - row.claimed_at == dispatch.backoff(2)
        for row in ReminderDelivery.objects.all()
    )

    sink.start()  # back, on the same port
    # The second failures came at +1.1 min on the tick's clock; their 2-minute backoff ends at +3.1.
    assert tick(ahead_by(3.2)()).requeued == 20
    drive(all_final, timeout=30, clock=ahead_by(4))

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 20}, final.statuses
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (20, 0, 0, 0)
    assert set(ReminderDelivery.objects.values_list("attempts", flat=True)) == {3}


def test_a_server_refusing_a_third_of_the_messages_gets_each_once(start_worker, sink):
    sink.handler.refuse_every = 3
    rituals_due_now(15, starts_in=60, lead=120)
    start_worker()

    tick()
    wait_until(every_row_tried_once, 30, "the first pass")
    assert sink.refused == 10  # every third of 30

    # Each tick runs a minute later than the one before (on the tick's clock),
    # so every backoff comes due in turn.
    minutes = iter(range(1, 60))
    drive(all_final, timeout=40, clock=lambda: ahead_by(next(minutes))())

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 30}, final.statuses
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (30, 0, 0, 0)
    # A third of every pass was refused, at RCPT or at DATA: 10, then 3, then 1.
    assert sink.refused == 14
    assert len(sink.received) == 30
    assert max(ReminderDelivery.objects.values_list("attempts", flat=True)) <= 4
