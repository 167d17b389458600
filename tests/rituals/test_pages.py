"""Rituals through the pages: adding, editing with bad input, keeping, the feed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from rituals import catalog
from rituals.emails import send_reminder
from rituals.models import Completion, ReminderDelivery, Ritual
from tests.factories import make_ritual

VALID = {
    "title": "Tea on the balcony",
    "description": "",
    "how_to": "",
    "prompt": "",
    "frequency": "weekly",
    "weekdays": ["MO", "TH"],
    "interval": "1",
    "month_day": "",
    "nth": "1",
    "nth_weekday": "FR",
    "start_time": "19:30",
    "duration_minutes": "20",
    "start_date": "2026-12-01",
    "end_date": "",
    "time_zone": "Europe/Berlin",
    "reminder_lead_minutes": "15",
    "nudge_me": "on",
}


def test_the_catalog_has_at_least_twelve_templates_with_stable_keys():
    templates = catalog.templates()
    assert len(templates) >= 12
    for key, template in templates.items():
        assert re.fullmatch(r"[a-z0-9-]+", key)
        assert template.title and template.why and template.how_to and template.prompt


def test_one_click_adds_a_template_to_the_space(couple, alice_client, bob_client):
    response = alice_client.post(reverse("ritual_add_template", args=["daily-check-in"]))
    ritual = Ritual.objects.get(couple=couple)
    assert response.url == reverse("ritual_detail", args=[ritual.pk])
    assert ritual.template_key == "daily-check-in"
    assert ritual.next_reminder_at is not None
    # both partners can change it afterwards
    data = {**VALID, "title": "Our check-in"}
    assert bob_client.post(reverse("ritual_edit", args=[ritual.pk]), data).status_code == 302
    ritual.refresh_from_db()
    assert ritual.title == "Our check-in"
    assert ritual.rrule == "FREQ=WEEKLY;BYDAY=MO,TH"


def test_an_unknown_template_is_404(couple, alice_client):
    assert alice_client.post(reverse("ritual_add_template", args=["nope"])).status_code == 404


def test_a_custom_ritual_from_scratch(couple, alice, alice_client):
    response = alice_client.post(reverse("ritual_new"), VALID)
    assert response.status_code == 302
    ritual = Ritual.objects.get()
    assert ritual.rrule == "FREQ=WEEKLY;BYDAY=MO,TH"
    assert ritual.created_by == alice
    assert not ritual.muted_by.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"weekdays": []}, "weekdays", "Choose at least one day of the week."),
        ({"end_date": "2026-11-01"}, "end_date", "The end date is before the start date."),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice."),
        (
            {"frequency": "daily", "reminder_lead_minutes": "1440"},
            "reminder_lead_minutes",
            "That reminder would arrive before the previous time is over",
        ),
        ({"title": ""}, "title", "This field is required."),
        ({"duration_minutes": "0"}, "duration_minutes", "Choose between 1 and 240 minutes."),
        ({"frequency": "monthly_day", "month_day": ""}, "month_day", "Choose a day of the month"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(couple, alice_client, change, field, message):
    response = alice_client.post(reverse("ritual_new"), {**VALID, **change})
    assert response.status_code == 422
    page = response.content.decode()
    assert message in page.replace("&#x27;", "'")
    assert f'id="id_{field}_error"' in page or f'id="id_{field}_error' in page
    assert not Ritual.objects.exists()
    # what was typed is still there
    assert 'value="Tea on the balcony"' in page or change.get("title") == ""


def test_the_preview_lists_the_next_five_times_in_my_zone(couple, bob_client):
    with time_machine.travel(datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        response = bob_client.get(reverse("ritual_preview"), VALID, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page
    times = re.findall(r"<time [^>]*>([^<]+)</time>", page)
    # 19:30 in Berlin is 13:30 for bob in New York
    assert times == [
        day + " 2026, 13:30"
        for day in (
            "Thursday 3 December",
            "Monday 7 December",
            "Thursday 10 December",
            "Monday 14 December",
            "Thursday 17 December",
        )
    ]


def test_the_preview_shows_the_schedule_errors(couple, alice_client):
    response = alice_client.get(reverse("ritual_preview"), {**VALID, "weekdays": []})
    assert "Choose at least one day of the week." in response.content.decode()


def test_editing_shows_the_schedule_in_plain_choices(couple, alice_client):
    ritual = make_ritual(couple, rrule="FREQ=MONTHLY;BYDAY=1FR")
    page = alice_client.get(reverse("ritual_edit", args=[ritual.pk])).content.decode()
    assert '<option value="monthly_weekday" selected>' in page
    assert '<option value="FR" selected>' in page


# The walk is at 19:00 in Berlin (18:00 UTC), its nudge 15 minutes before.
@pytest.mark.parametrize(
    ("resumed_at", "nudge_at"),
    [
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), datetime(2026, 12, 3, 17, 45, tzinfo=UTC)),
        # Between the nudge's time and the walk's start: the nudge is due at once.
        (datetime(2026, 12, 3, 17, 52, tzinfo=UTC), datetime(2026, 12, 3, 17, 45, tzinfo=UTC)),
        (datetime(2026, 12, 3, 18, 5, tzinfo=UTC), datetime(2026, 12, 4, 17, 45, tzinfo=UTC)),
    ],
)
def test_pause_and_resume(couple, alice_client, resumed_at, nudge_at):
    with time_machine.travel(resumed_at):
        ritual = make_ritual(couple)
        alice_client.post(reverse("ritual_pause", args=[ritual.pk]))
        ritual.refresh_from_db()
        assert (ritual.is_active, ritual.next_reminder_at) == (False, None)
        alice_client.post(reverse("ritual_pause", args=[ritual.pk]))
        ritual.refresh_from_db()
        assert ritual.is_active and ritual.next_reminder_at == nudge_at


def test_each_partner_can_opt_out_of_their_own_nudges(couple, alice, bob, bob_client):
    ritual = make_ritual(couple)
    bob_client.post(reverse("ritual_nudges", args=[ritual.pk]))
    assert list(ritual.muted_by.all()) == [bob]
    bob_client.post(reverse("ritual_nudges", args=[ritual.pk]))
    assert not ritual.muted_by.exists()


def test_deleting_asks_first(couple, alice_client):
    ritual = make_ritual(couple)
    assert alice_client.get(reverse("ritual_delete", args=[ritual.pk])).status_code == 200
    assert Ritual.objects.exists()
    alice_client.post(reverse("ritual_delete", args=[ritual.pk]))
    assert not Ritual.objects.exists()


# --- keeping -------------------------------------------------------------

NOW = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # 21:00 in Berlin, 15:00 in New York
TODAYS_WALK = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_marking_todays_occurrence_kept_inline(couple, bob, bob_client, alice_client, frozen):
    ritual = make_ritual(couple)
    dashboard = bob_client.get("/").content.decode()
    assert "We did it" in dashboard and "Evening walk" in dashboard
    response = bob_client.post(
        reverse("ritual_keep", args=[ritual.pk]),
        {"occurrence": TODAYS_WALK.isoformat(), "note": "lovely <b>sunset</b>", "together": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith("<li")
    assert "Kept together" in fragment
    assert "&lt;b&gt;sunset&lt;/b&gt;" in fragment
    completion = Completion.objects.get()
    assert (completion.user, completion.together, completion.occurrence_at) == (
        bob,
        True,
        TODAYS_WALK,
    )
    # alice sees it on her next page view
    page = alice_client.get("/").content.decode()
    assert "Bob marked it kept" in page and "lovely" in page


def test_undoing_my_mark(couple, bob, bob_client, frozen):
    ritual = make_ritual(couple)
    Completion.objects.create(ritual=ritual, occurrence_at=TODAYS_WALK, user=bob)
    bob_client.post(
        reverse("ritual_unkeep", args=[ritual.pk]), {"occurrence": TODAYS_WALK.isoformat()}
    )
    assert not Completion.objects.exists()


@pytest.mark.parametrize(
    "occurrence",
    [
        TODAYS_WALK + timedelta(minutes=5),  # not an occurrence of the schedule
        TODAYS_WALK + timedelta(days=2),  # in the future
        "yesterday-ish",
    ],
)
def test_only_real_occurrences_up_to_today_can_be_kept(couple, alice_client, frozen, occurrence):
    ritual = make_ritual(couple)
    value = occurrence.isoformat() if isinstance(occurrence, datetime) else occurrence
    response = alice_client.post(reverse("ritual_keep", args=[ritual.pk]), {"occurrence": value})
    assert response.status_code == 422
    assert not Completion.objects.exists()


def test_the_streak_counts_consecutive_kept_occurrences(couple, alice, bob, alice_client, frozen):
    ritual = make_ritual(couple, start_date=date(2026, 11, 20))
    for days_ago in (1, 2, 3, 5):
        Completion.objects.create(
            ritual=ritual, occurrence_at=TODAYS_WALK - timedelta(days=days_ago), user=bob
        )
    # today not yet kept: the day isn't over, so the streak is 3 (yesterday back to 3 days ago)
    page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
    assert re.search(r'streak__count">3<', page)
    ritual.mark_kept(TODAYS_WALK, alice, note="", together=True)
    page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
    assert re.search(r'streak__count">4<', page)


def test_the_week_view_lists_each_day(couple, alice_client, frozen):
    make_ritual(couple, rrule="FREQ=WEEKLY;BYDAY=MO,WE", title="Tea")
    page = alice_client.get(reverse("ritual_week"), {"start": "2026-12-02"}).content.decode()
    assert "Week of 30 November 2026" in page
    assert page.count(">Tea</a>") == 2


def test_the_ritual_list_and_catalog(couple, alice_client):
    make_ritual(couple, template_key="daily-check-in", title="Daily check-in")
    page = alice_client.get(reverse("rituals")).content.decode()
    assert "Already in your space" in page
    assert "Every day at 19:00" in page


def test_keeping_without_javascript_returns_to_a_safe_page(couple, alice_client, frozen):
    ritual = make_ritual(couple)
    data = {"occurrence": TODAYS_WALK.isoformat(), "next": "https://evil.example/"}
    response = alice_client.post(reverse("ritual_keep", args=[ritual.pk]), data)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    data["next"] = reverse("ritual_detail", args=[ritual.pk])
    response = alice_client.post(reverse("ritual_unkeep", args=[ritual.pk]), data)
    assert response.url == data["next"]


def test_todays_occurrence_is_in_the_history_before_it_starts(couple, alice, alice_client):
    morning = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 in Berlin; the walk is at 19:00
    ritual = make_ritual(couple)
    Completion.objects.create(ritual=ritual, occurrence_at=TODAYS_WALK, user=alice)
    with time_machine.travel(morning, tick=False):
        page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
    assert re.search(r'streak__count">1<', page)
    assert f'datetime="{TODAYS_WALK.astimezone(ritual.zone).isoformat()}"' in page
    assert "You marked it kept" in page


def test_a_streak_longer_than_a_month_is_counted_whole(couple, bob, frozen):
    from rituals.agenda import streak

    ritual = make_ritual(couple, start_date=date(2026, 9, 1))
    # the 40 before today, across the end of summer time on 25 October
    for occurrence in ritual.schedule.previous_before(TODAYS_WALK, 40):
        Completion.objects.create(ritual=ritual, occurrence_at=occurrence, user=bob)
    assert streak(ritual, NOW, ritual.zone) == 40


def test_keeping_costs_three_queries_and_shows_the_partners_own_time(
    couple, bob, bob_client, frozen, django_assert_num_queries
):
    ritual = make_ritual(couple)
    data = {"occurrence": TODAYS_WALK.isoformat(), "together": "on"}
    url = reverse("ritual_keep", args=[ritual.pk])
    # the ritual with the session's user (no separate user query), the mark, the marks
    with django_assert_num_queries(3):
        response = bob_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert ">13:00</time>" in response.content.decode()  # 18:00 UTC in New York
    assert Completion.objects.get().user == bob


def test_a_session_from_before_a_password_change_cannot_keep(couple, bob, bob_client, frozen):
    ritual = make_ritual(couple)
    data = {"occurrence": TODAYS_WALK.isoformat()}
    url = reverse("ritual_keep", args=[ritual.pk])
    assert bob_client.post(url, data).status_code == 302  # kept, back to the page
    Completion.objects.all().delete()
    bob.set_password("a-brand-new-passphrase")
    bob.save()
    response = bob_client.post(url, data)
    # The session ended, as Django's own check would end it: off to log in.
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Completion.objects.exists()


@pytest.mark.parametrize(("minutes", "said"), [(1, "about 1 minute."), (25, "about 25 minutes.")])
def test_the_ritual_page_says_its_length_in_plain_words(couple, alice_client, minutes, said):
    ritual = make_ritual(couple, duration_minutes=minutes)
    page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
    assert said in page


def test_a_one_minute_ritual_is_one_minute_in_its_reminder(couple, alice, mailoutbox):
    ritual = make_ritual(couple, duration_minutes=1)
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=alice
    )
    send_reminder(delivery)
    text = mailoutbox[0].body
    html = mailoutbox[0].alternatives[0][0]
    assert "for about 1 minute." in text and "1 minutes" not in text
    assert "about 1 minute." in html and "1 minutes" not in html


def test_a_ritual_not_kept_lately_shows_no_zero_streak(couple, alice_client):
    ritual = make_ritual(couple)
    page = alice_client.get(reverse("ritual_detail", args=[ritual.pk])).content.decode()
    assert "0 times in a row" not in page
    assert "A day you miss is just a day" in page
