"""A sent reminder is recorded as sent, even when the database connection drops
between the server's 250 and the worker's UPDATE; and every copy of one outbox
row carries the same Message-ID.

The connection is cut from the SMTP server's thread at the moment it has
stored the message and not yet answered: on PostgreSQL the server ends the
backend (``pg_terminate_backend``), as a restart does to every connection; on
SQLite the handle is closed under Django. The send itself runs in the test's
thread (eager tasks), against a real SMTP server on loopback.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.db import Error, close_old_connections, connection, connections

from rituals import dispatch
from rituals.emails import message_id
from rituals.models import ReminderDelivery
from rituals.tasks import send_reminders
from tests.faults.conftest import FaultSink
from tests.rituals.test_dispatch import REMINDER_DUE, tick

pytestmark = pytest.mark.django_db(transaction=True)
Status = ReminderDelivery.Status


@pytest.fixture
def walk(couple):
    from tests.factories import make_ritual

    return make_ritual(couple, now=REMINDER_DUE - timedelta(hours=5))


@pytest.fixture
def sink(settings):
    with FaultSink() as server:
        settings.MAILERS = server.mailers()
        yield server


def cutter():
    """End this thread's database connection, from any thread, as a database restart would."""
    connection.ensure_connection()
    wrapper = connections["default"]  # this thread's, whichever thread calls cut()

    def cut(number: int) -> None:
        if connection.vendor != "postgresql":
            wrapper.connection.close()
            return
        params = wrapper.settings_dict
        with psycopg.connect(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            password=params["PASSWORD"] or None,
            dbname=params["NAME"],
            autocommit=True,
        ) as admin:
            backend = wrapper.connection.info.backend_pid
            ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", [backend]).fetchone()
        assert ended == (True,)

    return cut


def copies(sink: FaultSink) -> list[tuple[str, str]]:
    return sorted((r.rcpt_tos[0], r.message["Message-ID"]) for r in sink.received)


def test_a_reminder_carries_a_message_id_derived_from_its_row(
    walk, sink, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://tend.example.org"
    tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    rows = {row.recipient.email: row for row in walk.deliveries.select_related("recipient")}
    epoch = int(rows["alice@example.com"].occurrence_at.timestamp())
    assert copies(sink) == sorted(
        (email, f"<reminder.{row.pk}.{epoch}@tend.example.org>") for email, row in rows.items()
    )


def tick_and_work(at, monkeypatch) -> list[str] | None:
    """A beat tick at ``at``, then a worker running the send task it queued, as
    Celery would: a task that fails is recorded, and the worker's connection is
    checked (and replaced if broken) before its next task. Returns the
    statuses the task ended its rows in (None if it failed)."""
    queued: list[int] = []
    with monkeypatch.context() as patch, time_machine.travel(at, tick=False):
        patch.setattr(dispatch, "enqueue", queued.extend)  # the broker
        dispatch.dispatch_due_reminders()
    try:
        with time_machine.travel(at, tick=False):
            return send_reminders(queued)
    except Error:
        return None
    finally:
        close_old_connections()


def test_the_connection_dropped_between_the_250_and_the_mark_sends_each_reminder_once(
    walk, sink, monkeypatch
):
    sink.handler.on_accepted = cutter()  # at every message
    first = tick_and_work(REMINDER_DUE, monkeypatch)
    # Later ticks, the database untouched: anything left sending would be
    # reopened and sent again by now.
    sink.handler.on_accepted = None
    tick_and_work(REMINDER_DUE + dispatch.STALE_SENDING, monkeypatch)

    assert sorted(sink.keys().values()) == [1, 1]  # each partner's reminder once
    assert set(walk.deliveries.values_list("status", flat=True)) == {Status.SENT}
    # Both recorded by the first worker, each on a connection opened after the cut.
    assert first == [Status.SENT, Status.SENT]
    assert set(walk.deliveries.values_list("attempts", flat=True)) == {1}


def test_a_reminder_sent_again_keeps_its_message_id(walk, sink, monkeypatch):
    """The database stays out of reach past MARK_PATIENCE: the worker gives the row
    up, the tick reopens it, and the copy sent again is the same message."""
    cut = cutter()
    cuts: list[int] = []

    def cut_once(number: int) -> None:
        if not cuts:
            cuts.append(number)
            cut(number)

    sink.handler.on_accepted = cut_once
    monkeypatch.setattr(dispatch, "MARK_PATIENCE", timedelta(0))
    # The first send's mark fails and is given up, which fails its task
    # before the second send.
    assert tick_and_work(REMINDER_DUE, monkeypatch) is None
    assert len(sink.received) == 1
    assert sorted(walk.deliveries.values_list("status", flat=True)) == [
        Status.PENDING,
        Status.SENDING,
    ]
    given_up = walk.deliveries.get(status=Status.SENDING)

    tick_and_work(REMINDER_DUE + dispatch.STALE_SENDING, monkeypatch)
    given_up.refresh_from_db()
    assert (given_up.status, given_up.abandoned) == (Status.SENT, 1)
    assert set(walk.deliveries.values_list("status", flat=True)) == {Status.SENT}
    twice = [r for r in sink.received if r.rcpt_tos == [given_up.recipient.email]]
    assert len(twice) == 2
    assert [r.message["Message-ID"] for r in twice] == [message_id(given_up)] * 2
    assert len(sink.received) == 3
