"""Signed links from reminder emails, and the calendar feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import time_machine
from dateutil.rrule import rrulestr
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from accounts.models import User
from couples import services
from rituals import calendar, links
from rituals.models import Completion, ReminderDelivery
from tests.factories import make_ritual
from tests.rituals import ical

OCCURRENCE = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def delivery_for(ritual, user):
    return ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=OCCURRENCE, recipient=user, status="sent"
    )


def path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_opening_the_done_link_changes_nothing_until_confirmed(couple, bob):
    delivery = delivery_for(make_ritual(couple), bob)
    client = Client(enforce_csrf_checks=False)
    url = path(links.done_url(delivery.pk))
    response = client.get(url)
    assert response.status_code == 200
    assert b"Did you keep" in response.content
    assert not Completion.objects.exists()
    response = client.post(url, {"together": "on", "note": "by the river"})
    assert b"marked kept" in response.content
    completion = Completion.objects.get()
    assert (completion.user, completion.occurrence_at, completion.note) == (
        bob,
        OCCURRENCE,
        "by the river",
    )


def test_a_done_link_for_someone_who_left_the_space_does_nothing(couple, bob):
    delivery = delivery_for(make_ritual(couple), bob)
    services.leave_couple(bob)
    response = Client().post(path(links.done_url(delivery.pk)))
    assert response.status_code == 404
    assert not Completion.objects.exists()


def test_an_old_or_tampered_done_link_says_so(couple, bob):
    delivery = delivery_for(make_ritual(couple), bob)
    url = path(links.done_url(delivery.pk))
    with time_machine.travel(datetime.now(UTC) + links.LINK_LIFETIME + timedelta(days=1)):
        assert Client().get(url).status_code == 410
    assert Client().get(url[:-3] + "xx/").status_code == 400


def test_the_pause_link_mutes_only_that_person(couple, alice, bob):
    ritual = make_ritual(couple)
    url = path(links.mute_url(ritual.pk, bob.pk))
    assert Client().get(url).status_code == 200
    assert not ritual.muted_by.exists()
    Client().post(url)
    assert list(ritual.muted_by.all()) == [bob]


def test_one_click_unsubscribe_works_without_logging_in_or_a_csrf_token(bob):
    url = path(links.unsubscribe_url(bob.pk))
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    bob.refresh_from_db()
    assert bob.reminders_enabled is False


def test_an_unsubscribe_link_is_for_one_user_only(alice, bob):
    token = links.unsubscribe_token(bob.pk)
    forged = token.replace(token.split(":")[0], links.unsubscribe_token(alice.pk).split(":")[0])
    Client().post(reverse("unsubscribe", args=[forged]))
    assert User.objects.get(pk=alice.pk).reminders_enabled
    assert User.objects.get(pk=bob.pk).reminders_enabled


def parse_feed(client, couple) -> Calendar:
    response = client.get(calendar.feed_path(couple))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def test_the_feed_matches_tends_own_occurrences(couple):
    rituals = [
        make_ritual(couple, title="Walk", rrule="FREQ=DAILY", start_date=date(2026, 3, 20)),
        make_ritual(
            couple,
            title="Date",
            rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
            time_zone="America/New_York",
        ),
        make_ritual(
            couple, title="Story", rrule="FREQ=MONTHLY;BYDAY=-1FR", end_date=date(2027, 6, 30)
        ),
        # 02:30 falls in Berlin's spring gap on 29 March: both must read it as 03:30
        make_ritual(couple, title="Night", start_date=date(2026, 3, 20), start_time=time(2, 30)),
    ]
    feed = parse_feed(Client(), couple)
    events = {str(e["SUMMARY"]): e for e in feed.walk("VEVENT")}
    assert set(events) == {"Walk", "Date", "Story", "Night"}
    assert {str(tz["TZID"]) for tz in feed.walk("VTIMEZONE")} == {
        "Europe/Berlin",
        "America/New_York",
    }
    window_start = datetime(2026, 3, 1, tzinfo=UTC)
    for ritual in rituals:
        event = events[ritual.title]
        start = event.decoded("DTSTART")
        assert str(start.tzinfo) == ritual.time_zone
        rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start)
        theirs = [o.astimezone(UTC) for o in rule.xafter(window_start, count=40)]
        ours = ritual.schedule.first_n(40, window_start)
        if ritual.end_date:
            ours = [o for o in ours if o <= theirs[-1]]
            theirs = theirs[: len(ours)]
        assert theirs == ours, ritual.title


def test_a_first_time_in_the_spring_gap_stays_at_its_time_on_later_days(couple):
    # 8 March 2026: New York's clocks go from 02:00 to 03:00.
    ritual = make_ritual(
        couple,
        title="Night feed",
        time_zone="America/New_York",
        start_date=date(2026, 3, 8),
        start_time=time(2, 30),
    )
    window = (datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    theirs = ical.occurrences(ical.feed_text(couple), *window)
    assert [o.strftime("%d %H:%M") for o in theirs] == [
        "08 02:30",  # read as 03:30 EDT, as Tend reads it
        "09 02:30",
        "10 02:30",
        "11 02:30",
    ]
    assert [o.astimezone(UTC) for o in theirs] == ritual.schedule.between(*window)


def test_an_app_that_reads_only_the_feeds_time_zone_still_has_summer_time_in_2045(couple):
    ritual = make_ritual(couple, time_zone="America/New_York", start_time=time(7, 30))
    text = ical.feed_text(couple)
    # A TZID no zone database knows makes the reader build the zone from the
    # feed's VTIMEZONE alone, as Outlook and others do.
    unknown = text.replace(b"America/New_York", b"Tend-feed-test-2045")
    window = (datetime(2045, 7, 1, tzinfo=UTC), datetime(2045, 7, 4, tzinfo=UTC))
    theirs = ical.occurrences(unknown, *window)
    assert [o.astimezone(UTC).strftime("%d %H:%M") for o in theirs] == [
        "01 11:30",  # 07:30 EDT, UTC-4
        "02 11:30",
        "03 11:30",
    ]
    assert [o.astimezone(UTC) for o in theirs] == ritual.schedule.between(*window)


def test_regenerating_the_feed_address_stops_the_old_one(couple, alice_client):
    old = calendar.feed_path(couple)
    alice_client.post(reverse("calendar_regenerate"))
    couple.refresh_from_db()
    assert Client().get(old).status_code == 404
    assert Client().get(calendar.feed_path(couple)).status_code == 200


def test_a_made_up_feed_address_is_404(couple):
    assert Client().get(reverse("calendar_feed", args=["nope"])).status_code == 404
