"""Beat stopped for ten minutes (simulated on the tick's clock), then started again.

The worker keeps running on the real clock; only the ticks stop. The last
tick before the outage runs at R - 10 min, the first one after it at R (now,
to the minute). Reminders that fell due in between follow the documented
rule when the first tick finds them:

- their ritual started more than ``START_GRACE`` (5 min) ago: recorded as
  skipped, never sent late;
- it started less long ago (a reminder at the start time, due a minute
  before R): sent now;
- it hasn't started: sent now, late but before the start.

Reminders due before the outage were sent by the ticks before it, and those
due after R wait for their time. Every ritual ends planned for tomorrow's
occurrence or, if not yet due, left alone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from rituals.models import ReminderDelivery
from tests.faults.conftest import (
    all_final,
    couple_with_ritual,
    drive,
    outcome,
    rows_settled,
    tick,
    wait_until,
    whole_minute,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status
OUTAGE = timedelta(minutes=10)
PER_KIND = 4


def test_after_beat_was_stopped_started_rituals_are_skipped_and_the_rest_sent_once(
    start_worker, sink
):
    restart = whole_minute(timezone.now())  # R
    minute = timedelta(minutes=1)
    # (occurrence, lead in minutes) of each kind, relative to R.
    kinds = {
        "due before the outage": (restart + 8 * minute, 20),  # reminder R-12
        "started during it": (restart - 7 * minute, 0),  # reminder R-7, at the start
        "started a moment ago": (restart - minute, 0),  # reminder R-1, within the grace
        "due during it, not started": (restart + 6 * minute, 15),  # reminder R-9
        "due after it": (restart + 30 * minute, 15),  # reminder R+15
    }
    with transaction.atomic():
        rituals = {
            kind: [
                couple_with_ritual(restart - OUTAGE - timedelta(hours=1), at, lead, f"{kind} {n}")
                for n in range(PER_KIND)
            ]
            for kind, (at, lead) in kinds.items()
        }
    start_worker()

    # Beat ticks every minute up to R - 10 min, then stops.
    for minutes_before in (13, 12, 11, 10):
        with time_machine.travel(restart - minutes_before * minute, tick=False):
            tick()
    wait_until(rows_settled, 20, "the reminders due before the outage to go out")
    assert ReminderDelivery.objects.count() == 2 * PER_KIND
    assert set(ReminderDelivery.objects.values_list("ritual__title", flat=True)) == {
        f"due before the outage {n}" for n in range(PER_KIND)
    }

    # Ten minutes later beat is back.
    with time_machine.travel(restart, tick=False):
        result = tick()
    assert result.skipped == PER_KIND  # one occurrence each
    assert len(result.queued) == 4 * PER_KIND
    drive(all_final, timeout=20)

    final = outcome(sink)
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (24, 0, 0, 0)
    by_kind = {
        kind: sorted(
            ReminderDelivery.objects.filter(ritual__in=group).values_list("status", flat=True)
        )
        for kind, group in rituals.items()
    }
    assert by_kind == {
        "due before the outage": [Status.SENT] * 2 * PER_KIND,
        "started during it": [Status.SKIPPED] * 2 * PER_KIND,
        "started a moment ago": [Status.SENT] * 2 * PER_KIND,
        "due during it, not started": [Status.SENT] * 2 * PER_KIND,
        "due after it": [],
    }
    # Each ritual moved on past the occurrence it was due for, and only past it.
    for kind, group in rituals.items():
        for ritual in group:
            planned = ritual.next_occurrence_at
            ritual.refresh_from_db()
            if kind == "due after it":
                assert ritual.next_occurrence_at == planned
            else:
                assert ritual.next_occurrence_at == ritual.next_occurrence_after(planned)
