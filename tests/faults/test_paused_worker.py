"""A worker frozen mid-send for longer than STALE_SENDING, then thawed.

The tick takes the frozen worker's row for abandoned, reopens it, and another
worker sends it: one message, the row "sent". When the frozen worker thaws, it
reads the reply it was waiting for, a 4xx, and records a transient failure.
That must not touch a row it no longer holds: the row is someone else's now,
and already sent.

(Until cc0b78e the transient branch of ``send_delivery`` updated the row by
id alone: the sent row went back to pending and the partner got the reminder
a second time, with no crash in the unclosable window to explain it. Every
write after a claim now names that claim.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

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
BUSY = "450 4.2.1 Mailbox busy, try again later"


def test_a_worker_thawed_after_its_row_was_sent_elsewhere_leaves_the_row_sent(
    start_worker, sink, fast_recovery
):
    rituals_due_now(1)
    frozen = start_worker().wait_ready()
    paused: list[int] = []

    def freeze_then_refuse(number: int) -> str | None:
        if number == 1:
            paused.append(number)
            frozen.pause()  # it will read the 4xx when it thaws
            return BUSY
        return None

    sink.handler.on_rcpt = freeze_then_refuse
    tick()
    wait_until(lambda: paused, 20, "the first worker to freeze")
    start_worker()

    # The tick reopens the frozen worker's row after STALE_SENDING; the second worker sends both.
    drive(all_final, timeout=30)
    assert set(ReminderDelivery.objects.values_list("status", flat=True)) == {Status.SENT}
    assert len(sink.received) == 2

    frozen.resume()
    wait_until(lambda: "not-claimed" in frozen.log.read_text(), 20, "the thawed worker's task")
    # It did get the 4xx for the first row (a transient failure), and found the second sent.
    assert "['pending', 'not-claimed']" in frozen.log.read_text()
    # Past any backoff the thawed worker may have set (on the tick's clock).
    drive(all_final, timeout=20, clock=lambda: timezone.now() + timedelta(minutes=2))

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 2}, final.statuses
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (2, 0, 0, 0)
