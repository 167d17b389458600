"""The reminder pipeline under a moving clock: once, on time, never a flood."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection

from rituals import dispatch
from rituals.models import ReminderDelivery
from tests.factories import make_ritual
from tests.mailsink import MailSink

Status = ReminderDelivery.Status
# Wednesday 2 December 2026, Berlin is UTC+1: the 19:00 walk is 18:00 UTC,
# its reminder (15 minutes before) is due at 17:45 UTC.
REMINDER_DUE = datetime(2026, 12, 2, 17, 45, tzinfo=UTC)
OCCURRENCE = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


@pytest.fixture
def walk(couple):
    return make_ritual(couple, now=REMINDER_DUE - timedelta(hours=5))


def tick(at: datetime, capture) -> dispatch.TickResult:
    with time_machine.travel(at, tick=False), capture(execute=True):
        return dispatch.dispatch_due_reminders()


def statuses(ritual):
    return sorted(ritual.deliveries.values_list("recipient__email", "status"))


def test_the_ritual_is_planned_for_its_next_occurrence(walk):
    assert walk.next_occurrence_at == OCCURRENCE
    assert walk.next_reminder_at == REMINDER_DUE


def test_nothing_is_due_a_minute_early(walk, django_capture_on_commit_callbacks):
    result = tick(REMINDER_DUE - timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert result.rituals == 0
    assert not ReminderDelivery.objects.exists()


def test_a_due_ritual_gets_one_delivery_per_partner_and_one_email_each(
    walk, django_capture_on_commit_callbacks
):
    result = tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    assert result.rituals == 1
    assert statuses(walk) == [("alice@example.com", "sent"), ("bob@example.com", "sent")]
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    walk.refresh_from_db()
    assert walk.next_occurrence_at == OCCURRENCE + timedelta(days=1)
    # the next tick, a minute later, finds nothing more to do
    result = tick(REMINDER_DUE + timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert result.rituals == 0
    assert len(mail.outbox) == 2


def test_each_partner_reads_the_time_in_their_own_zone(walk, django_capture_on_commit_callbacks):
    tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert "19:00" in by_recipient["alice@example.com"].subject  # Berlin
    assert "13:00" in by_recipient["bob@example.com"].subject  # New York
    assert "Hi Bob" in by_recipient["bob@example.com"].body
    assert "America/New_York" in by_recipient["bob@example.com"].body


def test_a_paused_ritual_gets_nothing(walk, django_capture_on_commit_callbacks):
    walk.is_active = False
    walk.plan_next_reminder(REMINDER_DUE)
    walk.save()
    tick(REMINDER_DUE + timedelta(minutes=5), django_capture_on_commit_callbacks)
    assert not ReminderDelivery.objects.exists()
    assert mail.outbox == []


def test_a_partner_who_opted_out_of_this_ritual_gets_nothing(
    walk, bob, django_capture_on_commit_callbacks
):
    walk.muted_by.add(bob)
    tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]


def test_a_partner_who_turned_off_all_nudges_gets_nothing(
    walk, alice, django_capture_on_commit_callbacks
):
    alice.reminders_enabled = False
    alice.save()
    tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    assert [m.to[0] for m in mail.outbox] == ["bob@example.com"]


def test_after_downtime_started_rituals_are_skipped_not_flooded(
    walk, django_capture_on_commit_callbacks
):
    three_days_later = REMINDER_DUE + timedelta(days=3, hours=1)  # 18:45 UTC, after the walk
    result = tick(three_days_later, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert result.skipped == 4  # the 2nd, 3rd, 4th and 5th of December
    assert set(walk.deliveries.values_list("status", flat=True)) == {"skipped"}
    walk.refresh_from_db()
    assert walk.next_occurrence_at == OCCURRENCE + timedelta(days=4)


def test_after_downtime_a_reminder_whose_ritual_has_not_started_is_sent(
    walk, django_capture_on_commit_callbacks
):
    late_but_before_start = REMINDER_DUE + timedelta(minutes=10)
    tick(late_but_before_start, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2


def test_a_trigger_delivered_twice_sends_once(walk, django_capture_on_commit_callbacks):
    with time_machine.travel(REMINDER_DUE, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            result = dispatch.dispatch_due_reminders()
        for delivery_id in result.queued:
            dispatch.send_delivery(delivery_id)
            assert dispatch.send_delivery(delivery_id) == "not-claimed"
    assert len(mail.outbox) == 2


def test_a_worker_that_died_after_claiming_is_retried_once_and_never_doubled(
    walk, django_capture_on_commit_callbacks
):
    with time_machine.travel(REMINDER_DUE, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            result = dispatch.dispatch_due_reminders()
        crashed, healthy = result.queued
        assert dispatch.claim_delivery(crashed, REMINDER_DUE)  # ... and then the worker died
        dispatch.send_delivery(healthy)
        # the broker redelivers the dead worker's task to another worker:
        assert dispatch.send_delivery(crashed) == "not-claimed"
    assert len(mail.outbox) == 1
    assert ReminderDelivery.objects.get(pk=crashed).status == Status.SENDING
    # once the claim is stale, the tick reopens it and it is sent, once
    tick(REMINDER_DUE + dispatch.STALE_SENDING, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2
    assert ReminderDelivery.objects.get(pk=crashed).status == Status.SENT
    tick(REMINDER_DUE + dispatch.STALE_SENDING * 2, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2


def test_a_lost_trigger_is_queued_again_by_the_tick(walk, django_capture_on_commit_callbacks):
    # the broker lost the triggers: callbacks captured but never run
    with (
        time_machine.travel(REMINDER_DUE, tick=False),
        django_capture_on_commit_callbacks(execute=False),
    ):
        dispatch.dispatch_due_reminders()
    assert mail.outbox == []
    result = tick(REMINDER_DUE + dispatch.REQUEUE_AFTER, django_capture_on_commit_callbacks)
    assert result.requeued == 2
    assert len(mail.outbox) == 2


def test_smtp_refusing_then_accepting_leads_to_exactly_one_email(
    walk, settings, django_capture_on_commit_callbacks
):
    with MailSink(refuse_first=2) as sink:
        settings.MAILERS = sink.mailers()
        tick(REMINDER_DUE, django_capture_on_commit_callbacks)
        assert sink.refused == 2
        assert sink.received == []
        assert statuses(walk) == [("alice@example.com", "pending"), ("bob@example.com", "pending")]
        assert "451" in walk.deliveries.first().last_error
        # the backoff has passed: the tick queues them again and they go out
        tick(REMINDER_DUE + timedelta(minutes=1), django_capture_on_commit_callbacks)
        sink.wait_for(2)
        tick(REMINDER_DUE + timedelta(minutes=3), django_capture_on_commit_callbacks)
    assert len(sink.received) == 2
    assert sorted(r.rcpt_tos[0] for r in sink.received) == ["alice@example.com", "bob@example.com"]
    assert statuses(walk) == [("alice@example.com", "sent"), ("bob@example.com", "sent")]


def test_a_permanent_refusal_is_recorded_as_failed(
    walk, settings, django_capture_on_commit_callbacks
):
    with MailSink(refuse_first=10, refuse_reply="550 5.1.1 No such mailbox") as sink:
        settings.MAILERS = sink.mailers()
        tick(REMINDER_DUE, django_capture_on_commit_callbacks)
    assert {s for _, s in statuses(walk)} == {"failed"}
    assert "550" in walk.deliveries.first().last_error


def test_transient_failures_are_retried_until_it_is_too_late_to_send(
    walk, settings, django_capture_on_commit_callbacks
):
    """Retries follow the clock, not a count: closer together as the deadline
    (START_GRACE after the start) nears."""
    deadline = dispatch.send_deadline(OCCURRENCE)
    with MailSink(refuse_first=1000) as sink:
        settings.MAILERS = sink.mailers()
        at = REMINDER_DUE  # 15 minutes before the walk, 20 before the deadline
        for _ in range(30):
            tick(at, django_capture_on_commit_callbacks)
            pending = walk.deliveries.filter(status=Status.PENDING)
            if not pending.exists():
                break
            at = min(pending.values_list("next_attempt_at", flat=True))
            assert at < deadline, "a retry was planned after the deadline"
    rows = list(walk.deliveries.all())
    assert {row.status for row in rows} == {Status.FAILED}
    # 1, 2, 2.1, 1.9, 1.6… then 1 minute apart: an eighth of what is left, at
    # least a minute: 16 tries in the 20 minutes (six with a plain doubling)
    assert [row.attempts for row in rows] == [16, 16]
    assert sink.refused == sum(row.attempts for row in rows)
    assert all(row.claimed_at < deadline for row in rows)
    assert all("too late to retry" in row.last_error for row in rows)
    assert {row.abandoned for row in rows} == {0}


@pytest.mark.parametrize(
    ("attempts", "left", "expected"),
    [
        (1, timedelta(hours=4), timedelta(minutes=1)),
        (3, timedelta(hours=4), timedelta(minutes=4)),
        (9, timedelta(hours=4), timedelta(minutes=30)),  # an eighth of four hours
        (2, timedelta(minutes=8), timedelta(minutes=1)),
        (1, timedelta(seconds=30), timedelta(minutes=1)),  # never under a minute
    ],
)
def test_the_backoff_grows_but_keeps_to_an_eighth_of_the_time_left(attempts, left, expected):
    assert dispatch.backoff(attempts, left) == expected


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_write_no_duplicates(couple):
    walks = [
        make_ritual(couple, now=REMINDER_DUE - timedelta(hours=5), title=f"Walk {n}")
        for n in range(20)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait(timeout=10)
            with time_machine.travel(REMINDER_DUE, tick=False):
                dispatch.dispatch_due_reminders()
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    mail.outbox = []
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert ReminderDelivery.objects.count() == 2 * len(walks)
    assert ReminderDelivery.objects.filter(status=Status.SENT).count() == 2 * len(walks)
    assert len(mail.outbox) == 2 * len(walks)


def test_a_send_that_keeps_killing_its_worker_is_given_up(walk, django_capture_on_commit_callbacks):
    walk.reminder_lead_minutes = 1440
    walk.plan_next_reminder(REMINDER_DUE - timedelta(days=2))
    walk.save()
    due = walk.next_reminder_at
    with (
        time_machine.travel(due, tick=False),
        django_capture_on_commit_callbacks(execute=False),
    ):
        crashed = dispatch.dispatch_due_reminders().queued[0]
    at = due
    for _ in range(dispatch.MAX_ABANDONED):
        with time_machine.travel(at, tick=False):
            assert dispatch.claim_delivery(crashed, at)  # ... and the worker dies again
        at += dispatch.STALE_SENDING
        tick(at, lambda execute: django_capture_on_commit_callbacks(execute=False))
    delivery = ReminderDelivery.objects.get(pk=crashed)
    assert (delivery.status, delivery.abandoned) == ("failed", dispatch.MAX_ABANDONED)
    assert delivery.attempts == dispatch.MAX_ABANDONED
