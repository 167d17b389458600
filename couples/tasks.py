from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from config import mail
from couples import emails
from couples.models import Invitation

logger = logging.getLogger(__name__)

# A claimed email not sent (or given back) within this was abandoned by a
# worker that died mid-send: the sweep queues it again.
STALE_SEND = timedelta(minutes=10)
MAX_BACKOFF = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4… minutes between tries after transient failures, at most 30."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@shared_task(ignore_result=True)
def send_invitation_email(invitation_id: int, token_hash: str) -> str:
    """Email the partner their invitation, once, unless it was renewed or closed meanwhile.

    1. Claim: the email must be owed now (``email_due_at`` passed) for this
       issue of the invitation (``token_hash``); the claim moves the due time
       past STALE_SEND, so a second trigger (the sweep, a redelivery) finds
       nothing to claim, and a worker that dies mid-send is retried later.
    2. Send. On success the email is no longer owed. A transient failure
       (refused connection, 4xx) is owed again after a backoff: the sweep,
       not a countdown task in the broker, tries again, so a wiped Redis
       loses nothing. A permanent failure is logged and given up; the
       inviter can resend from the dashboard.

    The message carries no secret: the link and code are rebuilt here from the
    invitation (``Invitation.current_secrets``).
    """
    now = timezone.now()
    mine = Invitation.objects.filter(pk=invitation_id, token_hash=token_hash)
    claimed_until = now + STALE_SEND
    if not mine.filter(email_due_at__lte=now).update(
        email_due_at=claimed_until, email_attempts=F("email_attempts") + 1
    ):
        return "not-claimed"
    claim = mine.filter(email_due_at=claimed_until)
    invitation = Invitation.objects.select_related("couple", "invited_by").get(pk=invitation_id)
    secrets = invitation.current_secrets() if invitation.email else None
    if not invitation.is_pending or secrets is None:
        if invitation.is_pending:
            # Issued under a SECRET_KEY no longer configured: the inviter can renew it.
            logger.warning(
                "Invitation %s: its link can't be rebuilt, email not sent", invitation_id
            )
        claim.update(email_due_at=None)
        return "not-sent"
    try:
        emails.send_invitation(invitation, *secrets)
    except Exception as error:  # every outcome is recorded on the row
        if mail.is_transient(error):
            claim.update(email_due_at=now + backoff(invitation.email_attempts))
            logger.warning("Invitation %s: email will be retried: %s", invitation_id, error)
            return "retry"
        claim.update(email_due_at=None)
        logger.error("Invitation %s: email failed: %s", invitation_id, error)
        return "failed"
    claim.update(email_due_at=None, last_sent_at=timezone.now(), send_count=F("send_count") + 1)
    return "sent"


@shared_task(ignore_result=True)
def queue_owed_invitation_emails() -> int:
    """Beat, every minute: queue the invitation emails owed and not on their way."""
    owed = (
        Invitation.objects.pending()
        .filter(email_due_at__lte=timezone.now())
        .values_list("pk", "token_hash")[:500]
    )
    owed = list(owed)
    for invitation_id, token_hash in owed:
        send_invitation_email.delay(invitation_id, token_hash)
    return len(owed)
