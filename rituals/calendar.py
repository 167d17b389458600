"""The couple's rituals as an iCalendar feed at a secret, regenerable address."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import F
from django.urls import reverse
from icalendar import Calendar, Event, vRecur

from config import regions
from couples.models import Couple
from rituals.models import Ritual
from rituals.recurrence import to_utc
from rituals.vtimezone import zone_component

SALT = "rituals.calendar-feed"


def feed_token(couple: Couple) -> str:
    # Signed (couple, version): nothing secret is stored, and bumping the
    # version makes every older address fail the check below.
    return signing.dumps([couple.pk, couple.calendar_version], salt=SALT, compress=True)


def feed_path(couple: Couple) -> str:
    return reverse("calendar_feed", args=[feed_token(couple)])


def couple_for_token(token: str) -> Couple | None:
    try:
        couple_id, version = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return Couple.objects.filter(
        pk=couple_id, calendar_version=version, archived_at__isnull=True
    ).first()


def regenerate(couple: Couple) -> None:
    Couple.objects.filter(pk=couple.pk).update(calendar_version=F("calendar_version") + 1)
    couple.refresh_from_db(fields=["calendar_version"])
    regions.changed(couple.pk, regions.SPACE)  # the address shows on the settings page


def ritual_event(ritual: Ritual, host: str) -> Event | None:
    """The ritual as a recurring event; None if its schedule never happens."""
    zone = ritual.zone
    # RFC 5545 counts DTSTART as the first instance even when it doesn't fit
    # the rule (dateutil and Tend don't): start the event at the first real
    # one. As a wall-clock time, not an instant: a first time in a spring gap
    # (02:30 on the change day) must stay 02:30, which every reader places at
    # 03:30 as Tend does, and which keeps 02:30 on all later days.
    first = ritual.schedule.first_wall_time()
    if first is None:
        return None
    event = Event()
    event.add("uid", f"ritual-{ritual.pk}@{host}")
    event.add("summary", ritual.title)
    description = "\n\n".join(part for part in (ritual.prompt, ritual.how_to) if part)
    if description:
        event.add("description", description)
    event.add("dtstart", first.replace(tzinfo=zone))
    event.add("duration", timedelta(minutes=ritual.duration_minutes))
    event.add("dtstamp", ritual.updated_at.astimezone(UTC))
    rule = vRecur.from_ical(ritual.rrule)
    if ritual.end_date:
        # With a zoned DTSTART, RFC 5545 wants UNTIL in UTC.
        rule["UNTIL"] = to_utc(datetime.combine(ritual.end_date, time(23, 59, 59)), zone)
    event.add("rrule", rule)
    return event


def add_time_zones(calendar: Calendar) -> None:
    """A VTIMEZONE for each zone the events use, from their earliest start on.

    Not icalendar's ``add_missing_timezones``: its components end in 2038.
    """
    earliest: dict[str, datetime] = {}
    for event in calendar.walk("VEVENT"):
        start = event["DTSTART"]
        tzid = start.params.get("TZID")
        if tzid:
            local = start.dt.replace(tzinfo=None)
            earliest[tzid] = min(earliest.get(tzid, local), local)
    # Start the zone a day early: its first observance then lies before
    # any event, whatever the zone does on the first event's day.
    components = [
        zone_component(tzid, since - timedelta(days=1)) for tzid, since in sorted(earliest.items())
    ]
    calendar.subcomponents[:0] = components


def build_feed(couple: Couple) -> bytes:
    host = settings.SITE_URL.split("://", 1)[-1] or "tend.local"
    calendar = Calendar()
    calendar.add("prodid", "-//Tend//Rituals//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Our rituals (Tend)")
    for ritual in couple.rituals.filter(is_active=True).order_by("pk"):
        event = ritual_event(ritual, host)
        if event is not None:
            calendar.add_component(event)
    add_time_zones(calendar)
    return calendar.to_ical()
