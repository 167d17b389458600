"""The invitation email (the shared helpers are ``config.mail``)."""

from __future__ import annotations

from django.conf import settings

from config.mail import render_email
from couples.models import Invitation, format_code


def send_invitation(invitation: Invitation, token: str, code: str) -> None:
    inviter = invitation.invited_by
    message = render_email(
        "invitation",
        {
            "inviter_name": inviter.get_short_name() if inviter else "Your partner",
            "accept_url": Invitation.accept_url(token),
            "join_url": settings.SITE_URL + "/join/",
            "code": format_code(code),
            "expires_at": invitation.expires_at,
        },
    )
    message.to = [invitation.email]
    message.send()
