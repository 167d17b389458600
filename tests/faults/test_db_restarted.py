"""PostgreSQL restarted, again and again, while two workers send reminders.

A restart (or a failover) ends every connection to the database. The worst
moment for a worker is between the SMTP server's 250 and its "mark sent"
UPDATE: the message is delivered, the UPDATE fails on the dead connection,
and if the worker gave up there the row would stay *sending*, be reopened by
the tick and go out a second time (it did, every time, before the worker
learned to write again on a new connection).

The database here is a private cluster (the shared server must never be
restarted), whatever database the rest of the suite uses. Ten restarts while
100 reminders go out: six at exactly that moment (from the SMTP server, after
it stored a message and before its 250, alternating ``fast`` and
``immediate``), four at random moments, wherever the workers and the tick
are. Every reminder arrives once, with its row's Message-ID.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import Error, connection

from rituals import dispatch
from rituals.emails import message_id
from rituals.models import ReminderDelivery
from tests.faults.conftest import (
    all_final,
    expected_subject,
    outcome,
    rituals_due_now,
    tick,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status

COUPLES = 50
REMINDERS = 2 * COUPLES
AT_THE_250 = [8, 24, 40, 56, 72, 88]  # the messages whose 250 waits for a restart
AT_RANDOM = 4


def survive_restarts(step):
    """Run ``step`` as beat would run it: a step cut off by a restart fails, and the
    next one starts on a new connection."""
    try:
        return step()
    except Error:
        connection.close()
        return None


def test_postgresql_restarted_while_sending_delivers_each_reminder_once(
    private_postgres, start_worker, sink, monkeypatch
):
    # The tick gives lost triggers 1 s and abandoned sends 10 s (longer than a
    # restart, so a worker writing again after one is never overtaken).
    monkeypatch.setattr(dispatch, "REQUEUE_AFTER", timedelta(seconds=1))
    monkeypatch.setattr(dispatch, "STALE_SENDING", timedelta(seconds=10))
    rituals_due_now(COUPLES)
    rng = random.Random(3)
    at_250: list[tuple[int, str]] = []
    at_random: list[int] = []
    errors: list[BaseException] = []

    def restart_before_the_250(number: int) -> None:
        if number in AT_THE_250 and len(at_250) < len(AT_THE_250):
            mode = ("fast", "immediate")[len(at_250) % 2]
            private_postgres.restart(mode)
            at_250.append((number, mode))

    def restart_at_random() -> None:
        # Spread over the sending: one restart per fifth of the messages, a
        # random moment (up to 150 ms) after that many have arrived.
        try:
            for n in range(1, AT_RANDOM + 1):
                wait_until(lambda n=n: len(sink.received) >= n * REMINDERS // 5, 60, "sends")
                time.sleep(rng.uniform(0, 0.15))
                private_postgres.restart(rng.choice(["fast", "immediate"]))
                at_random.append(len(sink.received))
        except BaseException as error:  # surfaced below
            errors.append(error)

    sink.handler.on_accepted = restart_before_the_250
    start_worker()
    start_worker()
    restarter = threading.Thread(target=restart_at_random, daemon=True)
    restarter.start()

    assert len(tick().queued) == REMINDERS
    deadline = time.monotonic() + 60
    while not survive_restarts(lambda: not restarter.is_alive() and all_final()):
        assert time.monotonic() < deadline, survive_restarts(
            lambda: Counter(ReminderDelivery.objects.values_list("status", flat=True))
        )
        survive_restarts(tick)
        time.sleep(0.25)
    assert errors == []

    assert [number for number, _ in at_250] == AT_THE_250
    assert len(at_random) == AT_RANDOM
    assert all(count < REMINDERS for count in at_random), at_random  # while sending
    assert private_postgres.restarts == len(AT_THE_250) + AT_RANDOM

    final = outcome(sink)
    assert final.statuses == {Status.SENT: REMINDERS}, final.statuses
    assert (final.delivered, final.duplicates, final.lost, final.unexpected) == (
        REMINDERS,
        0,
        0,
        0,
    ), final.line()
    # Each message carries the Message-ID of the row it was sent for.
    rows = {
        (row.recipient.email, expected_subject(row)): row
        for row in ReminderDelivery.objects.select_related("ritual", "recipient")
    }
    for item in sink.received:
        row = rows[(item.rcpt_tos[0], str(item.message["Subject"]))]
        assert item.message["Message-ID"] == message_id(row)
