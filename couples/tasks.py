from __future__ import annotations

import smtplib

from celery import shared_task

from couples import emails
from couples.models import Invitation, hash_secret


@shared_task(
    autoretry_for=(smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def send_invitation_email(invitation_id: int, token: str, code: str) -> None:
    """Email the partner their invitation, unless it was renewed or closed meanwhile."""
    invitation = (
        Invitation.objects.select_related("couple", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending or not invitation.email:
        return
    if invitation.token_hash != hash_secret(token):
        return  # renewed since: the newer email carries the working link
    emails.send_invitation(invitation, token, code)
