from __future__ import annotations

from celery import shared_task

from rituals import dispatch


@shared_task(ignore_result=True)
def dispatch_reminders() -> dict:
    """The beat tick: claim due rituals, write the outbox, queue the sends."""
    result = dispatch.dispatch_due_reminders()
    return {
        "rituals": result.rituals,
        "queued": len(result.queued),
        "skipped": result.skipped,
        "requeued": result.requeued,
    }


@shared_task(ignore_result=True, acks_late=True)
def send_reminders(delivery_ids: list[int]) -> list[str]:
    """Send a few reminders; each is claimed on its own, so a redelivered
    task skips those already sent. Retries come from the tick, never ETA tasks."""
    return [dispatch.send_delivery(delivery_id) for delivery_id in delivery_ids]
