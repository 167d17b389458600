"""What every email pipeline shares: building a message from its templates and
telling a failure worth retrying from one that isn't.

Both pipelines use these: the reminders (``rituals.emails``, sent by
``rituals.dispatch``) and the invitations (``couples.emails``, sent by
``couples.tasks``). Each message is three templates,
``templates/emails/<name>-subject.txt``, ``-body.txt`` and ``-body.html``.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

TRANSIENT_SMTP_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: Exception) -> bool:
    """Worth trying again later: the connection failed, or the server said 4xx."""
    if isinstance(error, TRANSIENT_SMTP_ERRORS):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return False


def render_email(name: str, context: dict) -> EmailMultiAlternatives:
    """Build a text + HTML message from templates/emails/<name>-*.{txt,html}."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text)
    message.attach_alternative(html, "text/html")
    return message
