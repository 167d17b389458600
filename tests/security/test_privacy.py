"""The export holds everything the user wrote and nothing their partner wrote;
deleting the account removes the user's rows and ends every one of their sessions.

The rule for a deleted partner's shared entries, as the code has it today:
``Entry.author`` is ``on_delete=CASCADE``, so everything a person wrote in the
space, shared entries included, goes with their account; the partner keeps the
space, the rituals (``created_by`` becomes empty) and their own words.
"""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session as StoredSession
from django.urls import reverse

from accounts.models import User
from couples import services
from couples.models import Couple, Invitation, Membership
from exercises import daily, engine
from exercises.models import Entry, Session, Visibility
from rituals import calendar, links
from rituals.models import Completion, ReminderDelivery, Ritual
from tests.conftest import logged_in
from tests.exports import download_export
from tests.factories import PASSWORD, make_couple, make_ritual
from tests.security.conftest import past_occurrence

ALICE = {
    "ritual": "ALICE-ritual-title",
    "ritual_prompt": "ALICE-ritual-prompt",
    "note": "ALICE-kept-note",
    "shared": "ALICE-shared-reflection",
    "private": "ALICE-private-appreciation",
    "sealed_alone": "ALICE-sealed-story-alone",
    "sealed_matched": "ALICE-sealed-daily-matched",
    "invited": "alices-friend@example.com",
}
BOB = {
    "ritual": "BOB-ritual-title",
    "ritual_prompt": "BOB-ritual-prompt",
    "note": "BOB-kept-note",
    "shared": "BOB-shared-reflection",
    "private": "BOB-private-appreciation",
    "sealed_alone": "BOB-sealed-story-alone",
    "sealed_matched": "BOB-sealed-daily-matched",
    "invited": "bobs-friend@example.com",
    "email": "bob@example.com",
}


# What a person wrote for themselves or each other; a ritual's title belongs to the space.
PERSONAL = ("note", "shared", "private", "sealed_alone", "sealed_matched", "invited")


def personal(words: dict) -> list[str]:
    return [words[key] for key in PERSONAL]


def write(couple, author, words: dict, story_key: str, session) -> None:
    """One of everything, in every visibility."""
    ritual = make_ritual(
        couple, title=words["ritual"], prompt=words["ritual_prompt"], created_by=author
    )
    for kept in Ritual.objects.filter(couple=couple):
        if kept.created_by_id == author.pk:
            Completion.objects.create(
                ritual=kept, occurrence_at=past_occurrence(kept), user=author, note=words["note"]
            )
    Entry.objects.create(
        couple=couple,
        session=session,
        author=author,
        prompt_key="eye_gazing:reflect",
        text=words["shared"],
    )
    Entry.objects.create(
        couple=couple,
        author=author,
        prompt_key="appreciation:2026-11-20:1",
        text=words["private"],
        visibility=Visibility.PRIVATE,
    )
    Entry.objects.create(
        couple=couple,
        author=author,
        prompt_key=f"story:{story_key}",
        text=words["sealed_alone"],
        visibility=Visibility.SEALED,
    )
    daily.answer(couple, author, daily.couple_today(couple), words["sealed_matched"])
    Entry.objects.create(
        couple=couple,
        author=author,
        prompt_key="love_quiz:answers",
        visibility=Visibility.PRIVATE,
        data={"answers": {"q1": "a"}},
    )
    Invitation.issue(couple, author, email=words["invited"])
    ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=author
    )


@pytest.fixture
def written(alice, bob) -> Couple:
    couple = make_couple(alice, bob, name="Our harbour")
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    write(couple, alice, ALICE, "how-we-met", session)
    write(couple, bob, BOB, "first-impressions", session)
    # Bob also marks Alice's ritual kept, with a note of his own.
    alices = Ritual.objects.get(title=ALICE["ritual"])
    Completion.objects.create(
        ritual=alices,
        occurrence_at=past_occurrence(alices),
        user=bob,
        note=BOB["note"] + "-on-alices",
    )
    return couple


def export_of(user) -> tuple[dict, str]:
    response = download_export(logged_in(user))
    text = response.content.decode()
    return json.loads(text), text


# ---------- export ----------


def test_the_export_holds_everything_the_user_wrote(written, alice):
    data, text = export_of(alice)
    for marker in ALICE.values():
        assert marker in text, f"{marker} is missing from the export"
    assert data["profile"]["email"] == "alice@example.com"
    assert data["profile"]["display_name"] == "Alice"
    assert [r["title"] for r in data["rituals"]["created"]] == [ALICE["ritual"]]
    assert [c["note"] for c in data["rituals"]["kept"]] == [ALICE["note"]]
    visibilities = {e["visibility"] for e in data["exercises"]}
    assert visibilities == {"shared", "sealed", "private"}
    assert {"answers": {"q1": "a"}} in [e["data"] for e in data["exercises"]]


def test_the_export_holds_nothing_the_partner_wrote(written, alice):
    _, text = export_of(alice)
    leaked = [marker for marker in BOB.values() if marker in text]
    assert not leaked, f"alice's export holds bob's {leaked}"
    assert "BOB-" not in text


def test_the_export_of_each_partner_is_their_own(written, bob):
    data, text = export_of(bob)
    assert all(marker in text for marker in BOB.values() if marker != BOB["email"])
    assert not [marker for marker in personal(ALICE) if marker in text]
    # Bob kept Alice's ritual: its name is how his own mark is told apart.
    assert ALICE["ritual"] in [c["ritual"] for c in data["rituals"]["kept"]]
    assert ALICE["ritual"] not in [r["title"] for r in data["rituals"]["created"]]


def test_after_leaving_the_export_still_holds_what_she_wrote(written, alice):
    services.leave_couple(alice)
    client = logged_in(alice)
    _, text = export_of(alice)
    assert all(marker in text for marker in ALICE.values())
    # ...but the shared space is closed to her at once.
    ritual = Ritual.objects.get(title=BOB["ritual"])
    session = Session.objects.get()
    for url in (
        reverse("ritual_detail", args=[ritual.pk]),
        reverse("exercise_session", args=[session.pk]),
        reverse("exercise_summary", args=[session.pk]),
        reverse("weekly_checkins"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response.url == reverse("dashboard"), url
    poll = client.get(reverse("exercise_poll", args=[session.pk]))
    assert poll.status_code == 404
    assert BOB["shared"] not in client.get(reverse("dashboard")).content.decode()


# ---------- deleting the account ----------


def sessions_of(user_id: int) -> list[str]:
    return [
        stored.session_key
        for stored in StoredSession.objects.all()
        if stored.get_decoded().get("_auth_user_id") == str(user_id)
    ]


@pytest.fixture
def deleted(written, alice):
    """Alice deletes her account on one device while logged in on another."""
    phone, laptop = logged_in(alice), logged_in(alice)
    assert len(sessions_of(alice.pk)) == 2
    response = laptop.post(reverse("delete_account"), {"password": PASSWORD})
    assert response.status_code == 302
    return {"couple": written, "phone": phone, "laptop": laptop, "alice_id": alice.pk}


def test_deleting_removes_every_row_of_the_user(deleted):
    alice_id = deleted["alice_id"]
    assert not User.objects.filter(pk=alice_id).exists()
    assert not Membership.objects.filter(user_id=alice_id).exists()
    assert not Completion.objects.filter(user_id=alice_id).exists()
    assert not Entry.objects.filter(author_id=alice_id).exists()
    assert not EmailAddress.objects.filter(user_id=alice_id).exists()
    assert not EmailAddress.objects.filter(email="alice@example.com").exists()
    assert not ReminderDelivery.objects.filter(recipient_id=alice_id).exists()


def test_deleting_takes_the_shared_entries_with_the_account(deleted, bob):
    """Entry.author is CASCADE: her shared reflection goes too, his stays."""
    reflections = Entry.objects.filter(prompt_key="eye_gazing:reflect")
    assert list(reflections.values_list("text", flat=True)) == [BOB["shared"]]
    session = Session.objects.get()
    summary = logged_in(bob).get(reverse("exercise_summary", args=[session.pk]))
    assert summary.status_code == 200
    assert ALICE["shared"] not in summary.content.decode()
    assert BOB["shared"] in summary.content.decode()


def test_deleting_ends_the_session_it_was_done_in(deleted):
    laptop = deleted["laptop"]
    assert "_auth_user_id" not in laptop.session
    response = laptop.get(reverse("profile"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


def test_the_other_devices_cookie_no_longer_authenticates(deleted):
    phone, couple = deleted["phone"], deleted["couple"]
    response = phone.get(reverse("profile"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    session = Session.objects.get(couple=couple)
    assert phone.get(reverse("exercise_poll", args=[session.pk])).status_code == 404
    assert phone.get(reverse("exercise_waiting")).status_code == 404
    assert phone.get(reverse("export")).status_code == 302


def test_deleting_removes_every_session_of_the_user_from_the_store(deleted):
    """Not one stored session still names the deleted account (other devices included)."""
    assert sessions_of(deleted["alice_id"]) == []


def test_the_partner_keeps_the_space_and_what_he_wrote(deleted, bob):
    couple = deleted["couple"]
    couple.refresh_from_db()
    assert couple.archived_at is None
    assert services.active_membership(bob).couple == couple
    assert Membership.objects.active().filter(couple=couple).count() == 1
    # The rituals stay with the space; who made them is forgotten.
    alices = Ritual.objects.get(title=ALICE["ritual"])
    assert alices.created_by is None
    assert Completion.objects.filter(user=bob).count() == 2
    assert Entry.objects.filter(author=bob).count() == 5
    assert Session.objects.get().started_by is None
    # Her invitations stay closed, and no longer name her.
    assert not Invitation.objects.filter(invited_by_id=deleted["alice_id"]).exists()
    assert not Invitation.objects.pending().filter(email=ALICE["invited"]).exists()


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "rituals",
        "ritual_week",
        "exercises",
        "exercise_history",
        "daily_question",
        "weekly_checkins",
        "appreciation",
        "love_quiz",
        "our_story",
        "love_map",
        "export",
        "leave",
    ],
)
def test_the_partners_pages_work_after_the_deletion(deleted, bob, name):
    response = logged_in(bob).get(reverse(name))
    assert response.status_code == 200
    assert not [marker for marker in personal(ALICE) if marker in response.content.decode()]


def test_the_partners_ritual_and_session_pages_work_after_the_deletion(deleted, bob):
    client = logged_in(bob)
    session = Session.objects.get()
    for ritual in Ritual.objects.all():
        assert client.get(reverse("ritual_detail", args=[ritual.pk])).status_code == 200
    for name in ("exercise_session", "exercise_summary"):
        assert client.get(reverse(name, args=[session.pk])).status_code == 200


# ---------- leaving closes every door, signed links included ----------


def test_after_leaving_the_calendar_feed_no_longer_shows_the_space(written, alice, bob):
    """The feed address names the space, not the person: one who leaves still holds it."""
    address = reverse("calendar_feed", args=[calendar.feed_token(written)])
    services.leave_couple(bob)
    response = logged_in(bob).get(address)
    assert response.status_code == 404, "the one who left still reads the space's calendar"
    assert ALICE["ritual"] not in response.content.decode()


def test_after_leaving_the_pause_link_of_an_old_reminder_shows_nothing(written, alice, bob):
    ritual = Ritual.objects.get(title=ALICE["ritual"])
    address = reverse("ritual_mute_link", args=[links.mute_token(ritual.pk, bob.pk)])
    services.leave_couple(bob)
    Ritual.objects.filter(pk=ritual.pk).update(title="ALICE-renamed-after-bob-left")
    client = logged_in(bob)
    page = client.get(address)
    assert "ALICE-renamed-after-bob-left" not in page.content.decode()
    assert page.status_code == 404
    client.post(address)
    assert not ritual.muted_by.filter(pk=bob.pk).exists()


def test_a_password_change_ends_the_other_sessions_polls_included(written, alice):
    phone, laptop = logged_in(alice), logged_in(alice)
    session = Session.objects.get()
    assert phone.get(reverse("exercise_poll", args=[session.pk])).status_code == 200
    laptop.get(reverse("account_change_password"))
    response = laptop.post(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 302
    assert laptop.get(reverse("profile")).status_code == 200
    assert phone.get(reverse("profile")).status_code == 302
    assert phone.get(reverse("exercise_poll", args=[session.pk])).status_code == 404
    assert phone.get(reverse("exercise_waiting")).status_code == 404
