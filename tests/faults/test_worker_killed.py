"""A worker killed with SIGKILL in the middle of a batch, then a fresh one started.

60 reminders go out as three send tasks (25, 25, 10). The first worker dies
while it sends the 10th message of the first task: its task message stays
unacknowledged in Redis (the visibility timeout is an hour), the row it was
sending stays "sending", and the rest of its batch stays "pending". The tick
reopens the abandoned row after STALE_SENDING and re-queues the pending ones
after REQUEUE_AFTER; the second worker sends them.

Where the kill lands decides whether one message goes out twice:

- before the server has the message (at RCPT): nothing reached anyone, the
  resend is the only copy;
- after the server stored it and before its 250 reached the worker: the
  message was delivered but the row never learned it, so the resend is a
  duplicate. That is the one window plain SMTP cannot close (docs/faults.md):
  Tend errs on the side of sending twice rather than not at all. Both copies
  carry the row's Message-ID, so the second is recognisably the same message.
"""

from __future__ import annotations

import pytest

from rituals.emails import message_id
from rituals.models import ReminderDelivery
from tests.faults.conftest import (
    all_final,
    drive,
    expected_subject,
    outcome,
    rituals_due_now,
    tick,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = ReminderDelivery.Status

KILL_AT = 10


@pytest.mark.parametrize("moment", ["before-the-server-has-it", "after-the-server-stored-it"])
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_at_most_the_message_in_flight(
    moment, broker, start_worker, sink, fast_recovery
):
    rituals_due_now(30)
    first = start_worker()
    killed_at: list[int] = []

    def kill(number: int) -> None:
        if number == KILL_AT and not killed_at:
            killed_at.append(number)
            first.kill()

    if moment == "before-the-server-has-it":
        sink.handler.on_rcpt = kill
    else:
        sink.handler.on_accepted = kill

    result = tick()
    assert len(result.queued) == 60
    first.wait_dead()
    assert killed_at == [KILL_AT]

    # What the dead worker left: nine rows sent, one "sending" (the message in
    # flight), the rest of its batch pending, its task message unacknowledged.
    stored = len(sink.received)
    assert stored == (KILL_AT if moment == "after-the-server-stored-it" else KILL_AT - 1)
    in_flight = ReminderDelivery.objects.select_related("ritual", "recipient").get(
        status=Status.SENDING
    )
    assert ReminderDelivery.objects.filter(status=Status.SENT).count() == KILL_AT - 1
    assert ReminderDelivery.objects.filter(status=Status.PENDING).count() == 60 - KILL_AT
    assert broker.client().hlen("unacked") == 1  # back in the queue only after an hour
    in_flight_key = (in_flight.recipient.email, expected_subject(in_flight))

    start_worker()
    drive(all_final, timeout=45)

    final = outcome(sink)
    assert final.statuses == {Status.SENT: 60}, final.statuses
    assert (final.lost, final.unexpected, final.delivered) == (0, 0, 60), final.line()
    if moment == "after-the-server-stored-it":
        # Exactly the message the server had stored when the worker died, twice,
        # both copies with the Message-ID of its row: recognisably one message.
        assert (final.duplicates, final.duplicated) == (1, [in_flight_key]), final.line()
        twice = [
            item.message["Message-ID"]
            for item in sink.received
            if (item.rcpt_tos[0], str(item.message["Subject"])) == in_flight_key
        ]
        assert twice == [message_id(in_flight)] * 2
    else:
        assert final.duplicates == 0, final.line()
        assert sink.keys()[in_flight_key] == 1
    in_flight.refresh_from_db()
    assert in_flight.attempts == 2
