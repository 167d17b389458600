"""The reminder pipeline: a tick that claims due rituals, and the send step.

PostgreSQL holds every fact; the broker only carries "send delivery N now"
triggers, which the tick rebuilds if they are lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import Error, connection, transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from config.mail import is_transient
from couples.models import Membership
from rituals.models import ReminderDelivery, Ritual

log = logging.getLogger(__name__)
Status = ReminderDelivery.Status

BATCH_SIZE = 500
# A pending row not picked up this long after it was queued is queued again
# (its trigger was lost, e.g. Redis was emptied).
REQUEUE_AFTER = timedelta(minutes=2)
# A row left "sending" this long was abandoned by a worker that died mid-send.
STALE_SENDING = timedelta(minutes=10)
# Sends abandoned this many times are given up (the message may be what
# kills the worker). Transient SMTP errors are retried on time instead: see
# ``backoff`` and ``send_delivery``.
MAX_ABANDONED = 6
# Missed occurrences recorded as skipped after downtime, per ritual and tick.
MAX_SKIPS_RECORDED = 50
# How long after its ritual started a reminder may still go out. Beat ticks
# once a minute, at whatever second it was started, so a reminder due at the
# start ("At the start time", lead 0) is first seen up to a minute after the
# ritual started, and sent a moment later still. Only an occurrence that
# started longer ago than this (downtime well beyond one tick) is skipped.
# Five minutes cover that minute, a lost trigger queued again after
# REQUEUE_AFTER and a retry or two of a transient SMTP error, while the
# nudge is still worth reading. The tick, the send step and the retry window
# all go by ``send_deadline``.
START_GRACE = timedelta(minutes=5)


@dataclass
class TickResult:
    rituals: int = 0
    queued: list[int] = field(default_factory=list)
    skipped: int = 0
    requeued: int = 0


def send_deadline(occurrence: datetime) -> datetime:
    """The instant from which a reminder for ``occurrence`` is too late to send."""
    return occurrence + START_GRACE


def recipients(ritual: Ritual) -> list[int]:
    """Ids of the partners to nudge: active members who haven't opted out."""
    muted = {user.pk for user in ritual.muted_by.all()}
    return [
        m.user_id
        for m in ritual.couple.memberships.all()
        if m.left_at is None and m.user.reminders_enabled and m.user_id not in muted
    ]


def plan(ritual: Ritual, now: datetime) -> tuple[list[ReminderDelivery], int]:
    """Deliveries for every occurrence whose reminder is due; advance the ritual.

    An occurrence that started more than START_GRACE ago is recorded as
    skipped, never sent late: after downtime partners get the next nudge, not
    a flood. One that started less long ago (a reminder due at the start, seen
    by the first tick after it) is sent.
    """
    rows: list[ReminderDelivery] = []
    skipped = 0
    to = recipients(ritual)
    occurrence = ritual.next_occurrence_at
    while occurrence is not None and occurrence - ritual.lead <= now:
        if send_deadline(occurrence) <= now:
            skipped += 1
            if skipped > MAX_SKIPS_RECORDED:
                occurrence = ritual.next_occurrence_after(now - START_GRACE)
                continue
            status = Status.SKIPPED
        else:
            status = Status.PENDING
        rows += [
            ReminderDelivery(
                ritual=ritual,
                occurrence_at=occurrence,
                recipient_id=user_id,
                status=status,
                created_at=now,
                next_attempt_at=now + REQUEUE_AFTER if status == Status.PENDING else None,
                last_error="" if status == Status.PENDING else "the ritual had already started",
            )
            for user_id in to
        ]
        occurrence = ritual.next_occurrence_after(occurrence)
    ritual.next_occurrence_at = occurrence
    ritual.next_reminder_at = occurrence - ritual.lead if occurrence else None
    return rows, skipped


def claim_batch(now: datetime, result: TickResult) -> int:
    """Claim up to BATCH_SIZE due rituals in one transaction; return how many.

    1. Lock due rituals with SKIP LOCKED, so concurrent ticks split the work
       instead of doubling it.
    2. Write their delivery rows; the unique (ritual, occurrence, recipient)
       constraint makes a repeated write a no-op.
    3. Advance next_reminder_at in the same transaction.
    4. Queue the sends only after commit, so a worker never sees a row that
       isn't there yet.
    """
    with transaction.atomic():
        due = list(
            Ritual.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_active=True, next_reminder_at__lte=now)
            .select_related("couple")
            .prefetch_related(
                Prefetch(
                    "couple__memberships",
                    queryset=Membership.objects.filter(left_at__isnull=True).select_related("user"),
                ),
                "muted_by",
            )
            .order_by("next_reminder_at")[:BATCH_SIZE]
        )
        if not due:
            return 0
        rows: list[ReminderDelivery] = []
        for ritual in due:
            planned, skipped = plan(ritual, now)
            rows += planned
            result.skipped += skipped
        ReminderDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        save_schedules(due)
        # ignore_conflicts leaves ids unset: read back what is pending now.
        pending_ids = list(
            ReminderDelivery.objects.filter(
                ritual__in=due, status=Status.PENDING, created_at=now
            ).values_list("pk", flat=True)
        )
        # robust: a broker outage must not stop the tick's other batches; the rows
        # are committed and requeue_lost queues them again.
        transaction.on_commit(lambda: enqueue(pending_ids), robust=True)
        result.rituals += len(due)
        result.queued += pending_ids
    return len(due)


def save_schedules(rituals: list[Ritual]) -> None:
    """Write each ritual's advanced next_* columns in one statement."""
    if connection.vendor != "postgresql":
        Ritual.objects.bulk_update(rituals, ["next_occurrence_at", "next_reminder_at"])
        return
    # Django's bulk_update builds a CASE per row and column, which costs more
    # than the rest of the tick; PostgreSQL joins a VALUES list instead.
    table = Ritual._meta.db_table
    rows = ", ".join(["(%s, %s::timestamptz, %s::timestamptz)"] * len(rituals))
    params = [v for r in rituals for v in (r.pk, r.next_occurrence_at, r.next_reminder_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS r SET next_occurrence_at = v.occurrence, "  # noqa: S608 (no user input)
            f"next_reminder_at = v.reminder FROM (VALUES {rows}) AS v(id, occurrence, reminder) "
            "WHERE r.id = v.id",
            params,
        )


def requeue_lost(now: datetime) -> int:
    """Queue again the pending rows whose trigger never ran, and reopen abandoned sends."""
    stale = ReminderDelivery.objects.filter(
        status=Status.SENDING, claimed_at__lte=now - STALE_SENDING
    )
    # A send that keeps killing its worker must not be retried forever.
    stale.filter(abandoned__gte=MAX_ABANDONED - 1).update(
        status=Status.FAILED,
        abandoned=F("abandoned") + 1,
        next_attempt_at=None,
        last_error="worker stopped mid-send, repeatedly",
    )
    reopened = stale.filter(abandoned__lt=MAX_ABANDONED - 1).update(
        status=Status.PENDING,
        abandoned=F("abandoned") + 1,
        next_attempt_at=now,
        last_error="worker stopped mid-send",
    )
    if reopened:
        log.warning("reopened %d abandoned sends", reopened)
    with transaction.atomic():
        ids = list(
            ReminderDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        ReminderDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + REQUEUE_AFTER)
        transaction.on_commit(lambda: enqueue(ids), robust=True)
    return len(ids)


# Deliveries per send task: fewer broker messages for a busy minute, and
# still small enough that many workers share the work.
SEND_CHUNK = 25


def enqueue(delivery_ids: list[int]) -> None:
    from rituals.tasks import send_reminders

    for start in range(0, len(delivery_ids), SEND_CHUNK):
        send_reminders.delay(delivery_ids[start : start + SEND_CHUNK])


def dispatch_due_reminders(now: datetime | None = None) -> TickResult:
    now = now or timezone.now()
    result = TickResult()
    while claim_batch(now, result) == BATCH_SIZE:
        pass
    result.requeued = requeue_lost(now)
    return result


# --- the send step -------------------------------------------------------


# The tick runs every minute: no retry comes sooner.
MIN_BACKOFF = timedelta(minutes=1)


def backoff(attempts: int, time_left: timedelta | None = None) -> timedelta:
    """The wait before retrying a transient failure: 1, 2, 4, 8… minutes, but
    never more than an eighth of the time left before the send deadline (nor
    less than a minute), so a short lead still gets many tries: 16 for a
    15-minute lead, whose deadline is 20 minutes off (a plain doubling gives
    six), and 5 for a reminder at the start first tried 59 s after it. The
    tick re-queues the row when it is due.
    """
    wait = timedelta(minutes=2 ** max(attempts - 1, 0))
    if time_left is not None:
        wait = min(wait, time_left / 8)
    return max(wait, MIN_BACKOFF)


def claim_delivery(delivery_id: int, now: datetime) -> bool:
    """Move a row from pending to sending; only the worker that does so may send it."""
    return bool(
        ReminderDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def send_delivery(delivery_id: int) -> str:
    """Send one claimed reminder; return the status it ends in.

    1. Claim: pending → sending. A duplicate trigger, or the retry of a
       worker that died, finds nothing to claim and stops.
    2. An occurrence that started more than START_GRACE ago is skipped, not
       sent late.
    3. Send; on success mark sent. A transient SMTP error puts the row back
       to pending with a backoff, for as long as the retry would still come
       before the send deadline; a permanent one, or a transient one with no
       time left, marks it failed.
    4. Every write after the claim names this claim (status sending, claimed
       at ``now``): a worker that was frozen past STALE_SENDING, whose row was
       reopened and sent by another, changes nothing when it wakes.
    5. Those writes survive a dropped database connection (a restart, a
       failover): see ``_write_after_send``.
    """
    from rituals.emails import send_reminder

    now = timezone.now()
    if not claim_delivery(delivery_id, now):
        return "not-claimed"
    delivery = ReminderDelivery.objects.select_related("ritual", "recipient").get(pk=delivery_id)
    deadline = send_deadline(delivery.occurrence_at)
    if deadline <= now:
        return _finish(delivery, now, Status.SKIPPED, "the ritual had already started")
    try:
        send_reminder(delivery)
    except Exception as error:  # every outcome is recorded on the row
        message = f"{type(error).__name__}: {error}"[:1000]
        if is_transient(error):
            retry_at = now + backoff(delivery.attempts, deadline - now)
            if retry_at < deadline:
                _write_after_send(
                    delivery,
                    lambda: _mine(delivery, now).update(
                        status=Status.PENDING, last_error=message, next_attempt_at=retry_at
                    ),
                )
                log.warning("reminder %s: transient failure, will retry: %s", delivery.pk, message)
                return Status.PENDING
            message = f"still failing when it was too late to retry: {message}"[:1000]
        log.error("reminder %s failed: %s", delivery.pk, message)
        return _finish(delivery, now, Status.FAILED, message)
    return _finish(delivery, now, Status.SENT, "")


def _mine(delivery: ReminderDelivery, claimed_at: datetime):
    """The row, only while it is still this worker's claim."""
    return ReminderDelivery.objects.filter(
        pk=delivery.pk, status=Status.SENDING, claimed_at=claimed_at
    )


def _finish(delivery: ReminderDelivery, claimed_at: datetime, status: str, error: str) -> str:
    sent_at = timezone.now() if status == Status.SENT else None
    _write_after_send(
        delivery,
        lambda: _mine(delivery, claimed_at).update(
            status=status, last_error=error, sent_at=sent_at, next_attempt_at=None
        ),
    )
    return status


# How long a worker keeps trying to record a send's outcome while the database
# is unreachable: a PostgreSQL restart takes a second or two, a failover to a
# standby up to a minute. Well under STALE_SENDING, so no other worker has
# taken the row over meanwhile (and if one had, the write, naming this claim,
# would change nothing).
MARK_PATIENCE = timedelta(seconds=60)
# The pauses between tries grow from the first to the longest.
MARK_FIRST_PAUSE = 0.1
MARK_LONGEST_PAUSE = 5.0


def _write_after_send(delivery: ReminderDelivery, write: Callable[[], int]) -> None:
    """Record the outcome of a send, on a fresh connection if the old one is gone.

    The message may be at the server by now: if this write is lost, the row
    stays *sending*, the tick reopens it after STALE_SENDING and it goes out
    again. A restart or failover of the database drops the worker's connection
    (and a restart during sending used to hit exactly this), so a failed write
    is tried again on a new connection, with growing pauses, for up to
    MARK_PATIENCE, then given up (the row is left to the reopen). Repeating it
    is safe: it names the claim, so after a first try that committed but whose
    reply was lost it matches nothing.
    """
    give_up_at = time.monotonic() + MARK_PATIENCE.total_seconds()
    pause = MARK_FIRST_PAUSE
    while True:
        try:
            write()
            return
        # Django's wrapped errors, and the driver's own where Django doesn't
        # wrap a call (a connection closed under it).
        except (Error, connection.Database.Error) as error:
            if connection.in_atomic_block or time.monotonic() + pause > give_up_at:
                raise
            log.warning(
                "reminder %s: recording the send failed, trying again on a new connection "
                "in %.1f s: %s",
                delivery.pk,
                pause,
                error,
            )
        with suppress(Error, connection.Database.Error):
            connection.close()
        time.sleep(pause)
        pause = min(pause * 2, MARK_LONGEST_PAUSE)
