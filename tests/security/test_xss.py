"""User text with markup is shown as text: escaped in every page, fragment and
HTML email that shows it, and as typed (not entity-encoded) in plain text."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from couples import emails as couple_emails
from couples import services
from exercises import daily, engine
from exercises.journal import appreciation_key, local_today
from exercises.models import Entry, Session, Visibility
from rituals import emails as ritual_emails
from rituals import links
from rituals.models import Completion, ReminderDelivery
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple, make_ritual
from tests.security.conftest import past_occurrence

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
ALL = SCRIPT + IMG + TEMPLATE
# What must never appear as markup, and what the escaped text looks like.
RAW = ["<script>alert(1)", "<img src=x", "<img src=x onerror"]
ESCAPED = ["&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"]
EVIL_EMAIL = f'"{SCRIPT}"@example.com'
HTMX = {"HTTP_HX_REQUEST": "true"}


def assert_escaped(body: str, where: str, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in body, f"{where} shows {raw!r} as markup"
    if shown:
        assert any(escaped in body for escaped in ESCAPED), f"{where} doesn't show the text"
        # the template-looking text is shown as typed, never evaluated
        assert "alert(1)&gt;49" not in body and "&lt;/script&gt;49" not in body, where


@pytest.fixture
def marked_space(alice, bob):
    """A space where everything either partner could type is markup."""
    alice.display_name = SCRIPT + TEMPLATE
    alice.save()
    bob.display_name = IMG
    bob.save()
    couple = make_couple(alice, bob, name=ALL)
    ritual = make_ritual(
        couple, title=ALL, prompt=ALL, description=ALL, how_to=ALL, created_by=alice
    )
    occurrence = past_occurrence(ritual)
    Completion.objects.create(ritual=ritual, occurrence_at=occurrence, user=bob, note=ALL)
    Completion.objects.create(ritual=ritual, occurrence_at=occurrence, user=alice, note=ALL)
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=alice
    )
    # A live eye gazing at its last step, where both reflections show side by side.
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    for author in (alice, bob):
        Entry.objects.create(
            couple=couple, session=session, author=author, prompt_key="eye_gazing:reflect", text=ALL
        )
    Session.objects.filter(pk=session.pk).update(step=3)
    finished = Session.objects.create(
        couple=couple, kind="weekly_checkin", status=Session.Status.FINISHED, started_by=alice
    )
    today = daily.couple_today(couple)
    for author in (alice, bob):
        daily.answer(couple, author, today, ALL)
        Entry.objects.create(
            couple=couple,
            session=finished,
            author=author,
            prompt_key="weekly_checkin:went-well",
            text=ALL,
            visibility=Visibility.SEALED,
        )
        Entry.objects.create(
            couple=couple,
            author=author,
            prompt_key=appreciation_key(local_today(author), 1),
            text=ALL,
        )
        Entry.objects.create(
            couple=couple,
            author=author,
            prompt_key="story:how-we-met",
            text=ALL,
            visibility=Visibility.SEALED,
        )
    invitation, token, code = services.issue_invitation(couple, alice, email=EVIL_EMAIL)
    return {
        "couple": couple,
        "ritual": ritual,
        "occurrence": occurrence,
        "delivery": delivery,
        "session": Session.objects.get(pk=session.pk),
        "finished": finished,
        "invitation": invitation,
        "token": token,
        "code": code,
    }


def pages(space) -> dict[str, str]:
    ritual, session = space["ritual"].pk, space["session"].pk
    return {
        "dashboard": reverse("dashboard"),
        "rituals": reverse("rituals"),
        "ritual_detail": reverse("ritual_detail", args=[ritual]),
        "ritual_edit": reverse("ritual_edit", args=[ritual]),
        "ritual_delete": reverse("ritual_delete", args=[ritual]),
        "ritual_week": reverse("ritual_week") + f"?start={space['occurrence']:%Y-%m-%d}",
        "leave": reverse("leave"),
        "profile": reverse("profile"),
        "exercises": reverse("exercises"),
        "exercise_session": reverse("exercise_session", args=[session]),
        "exercise_summary": reverse("exercise_summary", args=[session]),
        "weekly_summary": reverse("exercise_summary", args=[space["finished"].pk]),
        "exercise_history": reverse("exercise_history"),
        "daily_question": reverse("daily_question"),
        "weekly_checkins": reverse("weekly_checkins"),
        "appreciation": reverse("appreciation"),
        "our_story": reverse("our_story") + "?prompt=how-we-met",
        "love_quiz": reverse("love_quiz"),
    }


# Pages that show nothing either partner typed (their names aside, maybe).
SHOW_NOTHING_TYPED = {"exercises", "exercise_history", "love_quiz", "leave"}


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_page_shows_the_markup_as_text(marked_space, who, request):
    client = logged_in(request.getfixturevalue(who))
    for name, url in pages(marked_space).items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert_escaped(response.content.decode(), name, shown=name not in SHOW_NOTHING_TYPED)


def test_htmx_fragments_show_the_markup_as_text(marked_space, alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    ritual, session = marked_space["ritual"], marked_space["session"]
    fragments = {
        "poll": bob_client.get(reverse("exercise_poll", args=[session.pk]), {"v": 0}, **HTMX),
        # an action the step doesn't take: the stage comes back with its error
        "act": bob_client.post(
            reverse("exercise_act", args=[session.pk]), {"action": "nope"}, **HTMX
        ),
        "waiting": bob_client.get(reverse("exercise_waiting"), {"sig": "x"}, **HTMX),
        "unkeep": bob_client.post(
            reverse("ritual_unkeep", args=[ritual.pk]),
            {"occurrence": marked_space["occurrence"].isoformat()},
            **HTMX,
        ),
        "keep": alice_client.post(
            reverse("ritual_keep", args=[ritual.pk]),
            {"occurrence": marked_space["occurrence"].isoformat(), "note": ALL},
            **HTMX,
        ),
        "profile": alice_client.post(
            reverse("profile"), {"display_name": ALL[:60], "time_zone": "nowhere"}, **HTMX
        ),
        "daily": alice_client.post(reverse("daily_question"), {"text": ""}, **HTMX),
        "appreciation": alice_client.post(
            reverse("appreciation"), {"text_1": "", "text_2": ALL, "who_1": "shared"}, **HTMX
        ),
        "our_story": alice_client.post(
            reverse("our_story") + "?prompt=how-we-met", {"text": ""}, **HTMX
        ),
        "preview": alice_client.get(
            reverse("ritual_preview"), {"title": ALL, "frequency": ALL, "time_zone": ALL}, **HTMX
        ),
    }
    nothing_typed = {"waiting", "daily", "preview"}
    for name, response in fragments.items():
        assert response.status_code < 500, name
        body = response.content.decode()
        assert "<html" not in body, f"{name} is a whole page"
        assert_escaped(body, name, shown=name not in nothing_typed)


def test_the_signed_link_and_invitation_pages_show_the_markup_as_text(marked_space, alice):
    visitor = Client()
    delivery = marked_space["delivery"]
    urls = {
        "done_link": reverse("ritual_done_link", args=[links.done_token(delivery.pk)]),
        "mute_link": reverse(
            "ritual_mute_link", args=[links.mute_token(marked_space["ritual"].pk, alice.pk)]
        ),
        "invitation": reverse("invitation", args=[marked_space["token"]]),
    }
    for name, url in urls.items():
        response = visitor.get(url)
        assert response.status_code == 200, name
        assert_escaped(response.content.decode(), name)
    response = visitor.post(urls["done_link"], {"note": ALL})
    assert_escaped(response.content.decode(), "done_link after posting", shown=True)


def test_the_invitation_address_is_shown_as_text(charlie, django_capture_on_commit_callbacks):
    client = logged_in(charlie)
    with django_capture_on_commit_callbacks(execute=True):
        fragment = client.post(reverse("invite"), {"email": EVIL_EMAIL}, **HTMX)
    assert fragment.status_code == 200
    assert_escaped(fragment.content.decode(), "invite panel")
    page = client.get(reverse("dashboard"))
    assert_escaped(page.content.decode(), "dashboard with the invitation")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [EVIL_EMAIL.lower()]


def test_the_account_email_page_shows_an_address_with_markup_as_text(db):
    user = UserFactory(email=EVIL_EMAIL, display_name=SCRIPT)
    client = logged_in(user)
    for url in (reverse("account_email"), reverse("profile"), reverse("dashboard")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode(), url, shown=url != reverse("dashboard"))


def html_part(message) -> str:
    (alternative,) = message.alternatives
    content, mimetype = alternative
    assert mimetype == "text/html"
    return content


def assert_plain(text: str, where: str) -> None:
    """Plain text is read by no browser: it carries the text as typed, no entities."""
    for entity in ("&lt;", "&gt;", "&quot;", "&#x27;", "&amp;"):
        assert entity not in text, f"{where} shows the HTML entity {entity}"


def send_invitation(space, alice) -> None:
    couple_emails.send_invitation(space["invitation"], space["token"], space["code"])


def send_reminder(space, alice) -> None:
    ritual_emails.send_reminder(space["delivery"])


# Each email, how to send it, and the user text its subject and body start with.
EMAILS = {
    "invitation": (send_invitation, SCRIPT + TEMPLATE),
    "reminder": (send_reminder, ALL),
}


@pytest.mark.parametrize("name", sorted(EMAILS))
def test_the_html_part_of_the_email_escapes_the_markup(marked_space, alice, name):
    send, _ = EMAILS[name]
    send(marked_space, alice)
    (message,) = mail.outbox
    assert_escaped(html_part(message), f"{name} email (HTML)")


@pytest.mark.parametrize("name", sorted(EMAILS))
def test_the_text_part_of_the_email_carries_the_text_as_typed(marked_space, alice, name):
    send, typed = EMAILS[name]
    send(marked_space, alice)
    (message,) = mail.outbox
    assert message.content_subtype == "plain"
    assert typed in message.body
    assert_plain(message.body, f"{name} email (text)")


@pytest.mark.parametrize("name", sorted(EMAILS))
def test_the_subject_of_the_email_carries_the_text_as_typed(marked_space, alice, name):
    send, typed = EMAILS[name]
    send(marked_space, alice)
    (message,) = mail.outbox
    assert_plain(message.subject, f"{name} email subject")
    assert message.subject.startswith(typed)


def test_a_name_with_an_apostrophe_reads_right_in_the_email_subjects(alice, bob):
    """The everyday case of the same rule: "Zoë O'Brien", "Tea & talk"."""
    alice.display_name = "Zoë O'Brien"
    alice.save()
    couple = make_couple(alice, bob)
    invitation, token, code = services.issue_invitation(couple, alice, email="x@example.com")
    couple_emails.send_invitation(invitation, token, code)
    ritual = make_ritual(couple, title="Tea & talk")
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at or timezone.now(), recipient=bob
    )
    ritual_emails.send_reminder(delivery)
    invitation_mail, reminder_mail = mail.outbox
    assert invitation_mail.subject.startswith("Zoë O'Brien invites you")
    assert reminder_mail.subject.startswith("Tea & talk at ")
