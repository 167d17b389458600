from __future__ import annotations

import logging

from celery import shared_task

from couples import emails
from couples.models import Invitation

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=6)
def send_invitation_email(self, invitation_id: int, token_hash: str) -> None:
    """Email the partner their invitation, unless it was renewed or closed meanwhile.

    The message carries no secret: the link and code are rebuilt here from the
    invitation (``Invitation.current_secrets``), and ``token_hash`` only says
    which issue of them this email is for.

    A refused or dropped connection, or a 4xx answer, is retried with
    exponential backoff; the inviter can also resend from the dashboard.
    """
    invitation = (
        Invitation.objects.select_related("couple", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending or not invitation.email:
        return
    if invitation.token_hash != token_hash:
        return  # renewed since: the newer email carries the working link
    secrets = invitation.current_secrets()
    if secrets is None:
        # Issued under a SECRET_KEY no longer configured: the inviter can renew it.
        logger.warning("Invitation %s: its link can't be rebuilt, email not sent", invitation_id)
        return
    try:
        emails.send_invitation(invitation, *secrets)
    except Exception as error:
        if emails.is_transient(error):
            raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
        raise
