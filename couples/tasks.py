from __future__ import annotations

from celery import shared_task

from couples import emails
from couples.models import Invitation, hash_secret


@shared_task(bind=True, max_retries=6)
def send_invitation_email(self, invitation_id: int, token: str, code: str) -> None:
    """Email the partner their invitation, unless it was renewed or closed meanwhile.

    A refused or dropped connection, or a 4xx answer, is retried with
    exponential backoff; the inviter can also resend from the dashboard.
    """
    invitation = (
        Invitation.objects.select_related("couple", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending or not invitation.email:
        return
    if invitation.token_hash != hash_secret(token):
        return  # renewed since: the newer email carries the working link
    try:
        emails.send_invitation(invitation, token, code)
    except Exception as error:
        if emails.is_transient(error):
            raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
        raise
