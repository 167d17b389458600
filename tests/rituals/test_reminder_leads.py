"""Every reminder lead the ritual form offers goes out, whatever second beat ticks at.

Beat ticks once a minute at the second it happened to start: a reminder due
at 18:00:00 is first seen by a tick anywhere from 18:00:00 to 18:00:59. For
"At the start time" (lead 0) that tick already finds the ritual started, and
it must still send, not skip. Only downtime well beyond one tick (more than
``START_GRACE`` after the start) makes a reminder too late; the tick, the
worker and the retries go by the same deadline.

The leads come from the form, so a lead added there is tested here too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from rituals import dispatch
from rituals.forms import RitualForm
from rituals.models import ReminderDelivery
from tests.factories import UserFactory, make_ritual
from tests.mailsink import MailSink

Status = ReminderDelivery.Status
FORM_LEADS = [
    minutes for minutes, _label in RitualForm.base_fields["reminder_lead_minutes"].choices
]
TICK_SECONDS = [0, 1, 30, 59]
# A worker picks a trigger up a moment after the tick queued it.
WORKER_LATENCY = timedelta(seconds=3)
# Wednesday 2 December 2026, 19:00 in Berlin.
OCCURRENCE = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def weekly_ritual(couple, lead: int):
    """Weekly, so that every lead the form offers (up to a day) is one it accepts."""
    ritual = make_ritual(
        couple,
        now=OCCURRENCE - timedelta(days=2, minutes=lead),
        rrule="FREQ=WEEKLY;BYDAY=WE",
        reminder_lead_minutes=lead,
    )
    assert ritual.next_occurrence_at == OCCURRENCE
    return ritual


def beat(first: datetime, last: datetime, capture) -> None:
    """Beat's ticks, a minute apart from ``first`` to ``last``; a worker runs each
    tick's triggers WORKER_LATENCY after it."""
    at = first
    while at <= last:
        with time_machine.travel(at, tick=False), capture(execute=False) as triggers:
            dispatch.dispatch_due_reminders()
        with time_machine.travel(at + WORKER_LATENCY, tick=False):
            for trigger in triggers:
                trigger()
        at += MINUTE


def test_the_form_offers_a_reminder_at_the_start_time():
    # The case that was never sent: make sure it stays among those tested.
    assert 0 in FORM_LEADS


@pytest.mark.parametrize("second", TICK_SECONDS)
@pytest.mark.parametrize("lead", FORM_LEADS)
def test_every_lead_the_form_offers_is_sent_whatever_second_beat_ticks_at(
    lead, second, couple, django_capture_on_commit_callbacks
):
    ritual = weekly_ritual(couple, lead)
    due = OCCURRENCE - timedelta(minutes=lead)
    offset = timedelta(seconds=second)
    # Beat ticks at ``second`` past every minute, from before the reminder is due
    # until well after the first tick that finds it due.
    beat(due - 2 * MINUTE + offset, due + 3 * MINUTE + offset, django_capture_on_commit_callbacks)

    rows = list(ritual.deliveries.order_by("recipient__email"))
    assert [(row.recipient.email, row.status) for row in rows] == [
        ("alice@example.com", Status.SENT),
        ("bob@example.com", Status.SENT),
    ], [row.last_error for row in rows]
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    # Sent by the first tick at or after the reminder time, never before it.
    for row in rows:
        assert row.sent_at == due + offset + WORKER_LATENCY
    ritual.refresh_from_db()
    assert ritual.next_occurrence_at == OCCURRENCE + timedelta(weeks=1)


def test_a_reminder_at_the_start_refused_once_is_retried_after_the_start(
    couple, settings, django_capture_on_commit_callbacks
):
    """The retry window ends at the same deadline: a lead-0 reminder first tried
    at 18:00:59 still gets its retries."""
    ritual = weekly_ritual(couple, 0)
    with MailSink(refuse_first=2) as sink:
        settings.MAILERS = sink.mailers()
        beat(
            OCCURRENCE + timedelta(seconds=59),
            OCCURRENCE + 3 * MINUTE,
            django_capture_on_commit_callbacks,
        )
        assert sink.refused == 2
        assert sorted(r.rcpt_tos[0] for r in sink.received) == [
            "alice@example.com",
            "bob@example.com",
        ]
    rows = list(ritual.deliveries.all())
    assert {(row.status, row.attempts) for row in rows} == {(Status.SENT, 2)}
    assert all(row.sent_at < dispatch.send_deadline(OCCURRENCE) for row in rows)


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        (dispatch.START_GRACE - timedelta(seconds=1), Status.SENT),
        (dispatch.START_GRACE, Status.SKIPPED),
        (dispatch.START_GRACE + 2 * MINUTE, Status.SKIPPED),
    ],
)
def test_the_tick_sends_late_only_within_the_grace_after_the_start(
    late, expected, couple, django_capture_on_commit_callbacks
):
    """Beat was down: its first tick comes ``late`` after the ritual started."""
    ritual = weekly_ritual(couple, 15)
    with (
        time_machine.travel(OCCURRENCE + late, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = dispatch.dispatch_due_reminders()
    assert result.skipped == (1 if expected == Status.SKIPPED else 0)
    assert set(ritual.deliveries.values_list("status", flat=True)) == {expected}
    assert len(mail.outbox) == (2 if expected == Status.SENT else 0)


def test_a_worker_reaching_a_reminder_after_the_grace_skips_it(
    couple, django_capture_on_commit_callbacks
):
    """Queued in time by the tick, picked up by a worker only once it is too late."""
    ritual = weekly_ritual(couple, 0)
    with (
        time_machine.travel(OCCURRENCE + timedelta(seconds=59), tick=False),
        django_capture_on_commit_callbacks(execute=False) as triggers,
    ):
        dispatch.dispatch_due_reminders()
    with time_machine.travel(dispatch.send_deadline(OCCURRENCE), tick=False):
        for trigger in triggers:
            trigger()
    assert set(ritual.deliveries.values_list("status", flat=True)) == {Status.SKIPPED}
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("started", "retried"),
    [(dispatch.START_GRACE - MINUTE, True), (dispatch.START_GRACE + MINUTE, False)],
)
def test_the_admin_sends_a_failed_reminder_again_only_before_the_same_deadline(
    started, retried, couple, client
):
    ritual = weekly_ritual(couple, 0)
    failed = ReminderDelivery.objects.create(
        ritual=ritual,
        occurrence_at=OCCURRENCE,
        recipient=couple.memberships.first().user,
        status=Status.FAILED,
        attempts=3,
        last_error="still failing",
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with time_machine.travel(OCCURRENCE + started, tick=False):
        response = client.post(
            "/admin/rituals/reminderdelivery/",
            {"action": "retry_failed", "_selected_action": [failed.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert f"{int(retried)} reminder(s) will be sent" in response.text
    failed.refresh_from_db()
    assert failed.status == (Status.PENDING if retried else Status.FAILED)
