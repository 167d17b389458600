"""The database connection dropped in the middle of a dispatch transaction.

The tick claims due rituals in batches, one transaction each. Here a batch is
10 rituals and 25 are due; the connection is lost during the second batch,
either once its outbox rows are written (before the rituals are advanced) or
right before COMMIT. On PostgreSQL the server ends the backend
(``pg_terminate_backend`` from another connection); on SQLite, which has no
server, the client's handle is closed under Django, which discards the open
transaction the same way.

The tick fails. The first batch, committed, stands and its sends go out; of
the second nothing is left (no rows, schedules not advanced) and its sends
were never queued (on-commit callbacks die with the transaction). The next
tick, on a new connection, claims the rest: every reminder once.
"""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from django.db import Error, transaction
from django.utils import timezone

from rituals import dispatch
from rituals.models import ReminderDelivery, Ritual
from tests.faults.conftest import (
    all_final,
    drive,
    drop_connection,
    outcome,
    rituals_due_now,
    tick,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status


def on_second_call(function, before):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            before()
        return function(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("moment", ["after-the-outbox-rows", "right-before-commit"])
def test_a_dispatch_transaction_cut_off_leaves_nothing_half_written(
    moment, monkeypatch, start_worker, sink
):
    rituals_due_now(25)
    monkeypatch.setattr(dispatch, "BATCH_SIZE", 10)
    if moment == "after-the-outbox-rows":
        # The rows are inserted; the rituals are not advanced yet.
        monkeypatch.setattr(
            dispatch, "save_schedules", on_second_call(dispatch.save_schedules, drop_connection)
        )
    else:
        # Everything is written; on_commit is the batch's last step before COMMIT.
        cut = on_second_call(transaction.on_commit, drop_connection)
        monkeypatch.setattr(
            dispatch, "transaction", SimpleNamespace(atomic=transaction.atomic, on_commit=cut)
        )
    start_worker()

    # (SQLite: a call Django doesn't wrap may surface sqlite3's own error.)
    with pytest.raises((Error, sqlite3.Error)):
        tick()

    # The first batch committed and went out; nothing of the second exists.
    assert ReminderDelivery.objects.count() == 20
    assert Ritual.objects.filter(next_reminder_at__lte=timezone.now()).count() == 15
    wait_until(lambda: len(sink.received) == 20, 20, "the first batch's reminders")

    monkeypatch.undo()  # the connection stays up from here on
    drive(all_final, timeout=30)

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 50}, final.statuses
    assert (final.delivered, final.lost, final.duplicates, final.unexpected) == (50, 0, 0, 0)
    assert not Ritual.objects.filter(next_reminder_at__lte=timezone.now()).exists()
