from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from couples.models import Invitation, format_code


def render_email(name: str, context: dict) -> EmailMultiAlternatives:
    """Build a text + HTML message from templates/emails/<name>-*.{txt,html}."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text)
    message.attach_alternative(html, "text/html")
    return message


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
    invitation.last_sent_at = timezone.now()
    invitation.send_count += 1
    invitation.save(update_fields=["last_sent_at", "send_count"])
