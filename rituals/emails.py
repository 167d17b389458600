from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail.utils import DNS_NAME
from django.utils import timezone

from config.mail import render_email
from rituals import links
from rituals.models import ReminderDelivery


def message_id(delivery: ReminderDelivery) -> str:
    """The same Message-ID every time this outbox row is sent.

    A row can go out twice (the window in docs/faults.md): the second copy is
    then recognisably the same message, and mail providers that fold
    messages with one ID show it once. The occurrence keeps IDs apart should
    a restored database hand out row ids again.
    """
    host = urlsplit(settings.SITE_URL).hostname or str(DNS_NAME)
    return f"<reminder.{delivery.pk}.{int(delivery.occurrence_at.timestamp())}@{host}>"


def send_reminder(delivery: ReminderDelivery) -> None:
    """One nudge to one partner, in their time zone and with their name."""
    ritual, recipient = delivery.ritual, delivery.recipient
    local_start = timezone.localtime(delivery.occurrence_at, recipient.zone)
    unsubscribe = links.unsubscribe_url(recipient.pk)
    # Template date filters read the active zone: make it the recipient's.
    with timezone.override(recipient.zone):
        message = render_email(
            "ritual-reminder",
            {
                "name": recipient.get_short_name(),
                "ritual": ritual,
                "starts_at": local_start,
                "time_zone": recipient.time_zone,
                "minutes_before": ritual.reminder_lead_minutes,
                "done_url": links.done_url(delivery.pk),
                "mute_url": links.mute_url(ritual.pk, recipient.pk),
                "unsubscribe_url": unsubscribe,
            },
        )
    message.to = [recipient.email]
    message.extra_headers.update(
        {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Message-ID": message_id(delivery),
        }
    )
    message.send()
