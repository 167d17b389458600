"""Every state-changing request needs the CSRF token, and works with it.

Each case below is a request that changes something for the one who makes
it: without the token it is refused with 403 and changes nothing; with the
token taken from the page's cookie it goes through. The one deliberate
exception is the one-click unsubscribe of RFC 8058, proven by its signed token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from couples import services
from couples.models import Couple, Invitation, Membership
from exercises import journal
from exercises.models import Entry, Session
from home.models import DataExport
from rituals import links
from rituals.models import Completion, Ritual
from tests.factories import PASSWORD, UserFactory
from tests.security.conftest import assert_unchanged, past_occurrence, snapshot
from tests.test_access_matrix import MATRIX, our_route_names, url_for

UNSAFE = ["post", "put", "patch", "delete"]
RITUAL_FORM = {
    "title": "Tea on the balcony",
    "frequency": "weekly",
    "weekdays": ["MO", "TH"],
    "interval": "1",
    "nth": "1",
    "nth_weekday": "FR",
    "start_time": "19:30",
    "duration_minutes": "20",
    "start_date": "2026-12-01",
    "time_zone": "Europe/Berlin",
    "reminder_lead_minutes": "15",
    "nudge_me": "on",
}


@dataclass
class Case:
    """One request that changes state: who sends it, where, what, and how to see it worked."""

    user: str | None
    url: Callable[[dict], str]
    data: Callable[[dict], dict]
    done: Callable[[dict, Client], bool]
    page: Callable[[dict], str] = field(default=lambda w: reverse("dashboard"))
    setup: Callable[[dict], None] = field(default=lambda w: None)


def fixed(url_name: str, *keys: str) -> Callable[[dict], str]:
    return lambda w: reverse(url_name, args=[w[key] for key in keys])


def ritual(w) -> Ritual | None:
    return Ritual.objects.filter(pk=w["ritual"].pk).first()


def entries_by(w, user: str, prefix: str) -> bool:
    return Entry.objects.filter(author=w[user], prompt_key__startswith=prefix).exists()


def end_live_session(w) -> None:
    Session.objects.filter(pk=w["session"].pk).update(status=Session.Status.ENDED)


def logged_in_as(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


QUIZ = {item["key"]: "a" for item in journal.quiz()["item"]}
CHECK = {statement["key"]: "often" for statement in journal.self_check()["statement"]}

CASES: dict[str, Case] = {
    "create_space": Case(
        "dave",
        fixed("create_space"),
        lambda w: {"name": "Ours"},
        lambda w, c: Membership.objects.filter(user=w["dave"]).exists(),
    ),
    "invite": Case(
        "charlie",
        fixed("invite"),
        lambda w: {"email": "someone@example.com"},
        lambda w, c: Invitation.objects.filter(email="someone@example.com").exists(),
    ),
    "renew_invitation": Case(
        "alice",
        lambda w: reverse("renew_invitation", args=[w["invitation"].pk]),
        lambda w: {},
        lambda w, c: (
            Invitation.objects.get(pk=w["invitation"].pk).token_hash != w["invitation"].token_hash
        ),
    ),
    "revoke_invitation": Case(
        "alice",
        lambda w: reverse("revoke_invitation", args=[w["invitation"].pk]),
        lambda w: {},
        lambda w, c: Invitation.objects.get(pk=w["invitation"].pk).revoked_at is not None,
    ),
    "export_prepare": Case(
        "alice",
        fixed("export_prepare"),
        lambda w: {},
        # A fresh export replaced the one she had (built at once: tasks run in-process).
        lambda w, c: (
            DataExport.objects.filter(user=w["alice"], ready_at__isnull=False)
            .exclude(token=w["export"].token)
            .exists()
        ),
        page=fixed("export"),
    ),
    "leave": Case(
        "alice",
        fixed("leave"),
        lambda w: {"confirm": "on"},
        lambda w, c: not Membership.objects.active().filter(user=w["alice"]).exists(),
        page=fixed("leave"),
    ),
    "join": Case(
        "dave",
        fixed("join"),
        lambda w: {"code": w["charlie_code"]},
        lambda w, c: Membership.objects.filter(user=w["dave"]).exists(),
        page=fixed("join"),
    ),
    "invitation": Case(
        "dave",
        fixed("invitation", "charlie_token"),
        lambda w: {},
        lambda w, c: Membership.objects.filter(user=w["dave"]).exists(),
        page=fixed("invitation", "charlie_token"),
    ),
    "profile": Case(
        "alice",
        fixed("profile"),
        lambda w: {"display_name": "Alicia", "time_zone": "Europe/Berlin"},
        lambda w, c: User.objects.get(pk=w["alice"].pk).display_name == "Alicia",
        page=fixed("profile"),
    ),
    "delete_account": Case(
        "alice",
        fixed("delete_account"),
        lambda w: {"password": PASSWORD},
        lambda w, c: not User.objects.filter(pk=w["alice"].pk).exists(),
        page=fixed("delete_account"),
    ),
    "ritual_new": Case(
        "alice",
        fixed("ritual_new"),
        lambda w: RITUAL_FORM,
        lambda w, c: Ritual.objects.filter(title=RITUAL_FORM["title"]).exists(),
        page=fixed("ritual_new"),
    ),
    "ritual_edit": Case(
        "alice",
        lambda w: reverse("ritual_edit", args=[w["ritual"].pk]),
        lambda w: {**RITUAL_FORM, "title": "Renamed"},
        lambda w, c: ritual(w).title == "Renamed",
    ),
    "ritual_add_template": Case(
        "alice",
        lambda w: reverse("ritual_add_template", args=["daily-check-in"]),
        lambda w: {},
        lambda w, c: Ritual.objects.filter(template_key="daily-check-in").exists(),
        page=fixed("rituals"),
    ),
    "ritual_pause": Case(
        "alice",
        lambda w: reverse("ritual_pause", args=[w["ritual"].pk]),
        lambda w: {},
        lambda w, c: not ritual(w).is_active,
    ),
    "ritual_nudges": Case(
        "alice",
        lambda w: reverse("ritual_nudges", args=[w["ritual"].pk]),
        lambda w: {},
        lambda w, c: ritual(w).muted_by.filter(pk=w["alice"].pk).exists(),
    ),
    "ritual_delete": Case(
        "alice",
        lambda w: reverse("ritual_delete", args=[w["ritual"].pk]),
        lambda w: {},
        lambda w, c: ritual(w) is None,
    ),
    "ritual_keep": Case(
        "alice",
        lambda w: reverse("ritual_keep", args=[w["ritual"].pk]),
        lambda w: {"occurrence": past_occurrence(w["ritual"]).isoformat(), "note": "lovely"},
        lambda w, c: Completion.objects.filter(user=w["alice"], note="lovely").exists(),
    ),
    "ritual_unkeep": Case(
        "bob",
        lambda w: reverse("ritual_unkeep", args=[w["ritual"].pk]),
        lambda w: {"occurrence": past_occurrence(w["ritual"]).isoformat()},
        lambda w, c: not Completion.objects.filter(user=w["bob"]).exists(),
    ),
    "calendar_regenerate": Case(
        "alice",
        fixed("calendar_regenerate"),
        lambda w: {},
        lambda w, c: Couple.objects.get(pk=w["couple"].pk).calendar_version > 1,
        page=fixed("calendar_settings"),
    ),
    "exercise_start": Case(
        "alice",
        lambda w: reverse("exercise_start", args=["hug"]),
        lambda w: {"hug-mode": "two_devices", "hug-seconds": "20"},
        lambda w, c: Session.objects.filter(kind="hug").exists(),
        page=fixed("exercises"),
        setup=end_live_session,
    ),
    "exercise_act": Case(
        "alice",
        lambda w: reverse("exercise_act", args=[w["session"].pk]),
        lambda w: {"action": "end"},
        lambda w, c: Session.objects.get(pk=w["session"].pk).status == Session.Status.ENDED,
    ),
    "daily_question": Case(
        "alice",
        fixed("daily_question"),
        lambda w: {"text": "the sea"},
        lambda w, c: entries_by(w, "alice", "daily:"),
        page=fixed("daily_question"),
    ),
    "appreciation": Case(
        "alice",
        fixed("appreciation"),
        lambda w: {"text_1": "the soup", "who_1": "shared", "who_2": "shared", "who_3": "shared"},
        lambda w, c: entries_by(w, "alice", "appreciation:"),
        page=fixed("appreciation"),
    ),
    "love_quiz": Case(
        "alice",
        fixed("love_quiz"),
        lambda w: QUIZ,
        lambda w, c: entries_by(w, "alice", "love_quiz:"),
        page=fixed("love_quiz"),
    ),
    "self_check": Case(
        "alice",
        fixed("self_check"),
        lambda w: CHECK,
        lambda w, c: entries_by(w, "alice", "self_check:"),
        page=fixed("self_check"),
    ),
    "our_story": Case(
        "alice",
        lambda w: reverse("our_story") + "?prompt=first-impressions",
        lambda w: {"text": "you laughed"},
        lambda w, c: entries_by(w, "alice", "story:first-impressions"),
        page=lambda w: reverse("our_story") + "?prompt=first-impressions",
    ),
    # Links from a reminder email: no log-in, the signature names alice.
    "ritual_done_link": Case(
        None,
        lambda w: reverse("ritual_done_link", args=[w["signed"]["done"]]),
        lambda w: {"note": "from the email"},
        lambda w, c: Completion.objects.filter(user=w["alice"], note="from the email").exists(),
        page=lambda w: reverse("ritual_done_link", args=[w["signed"]["done"]]),
    ),
    "ritual_mute_link": Case(
        None,
        lambda w: reverse("ritual_mute_link", args=[w["signed"]["mute"]]),
        lambda w: {},
        lambda w, c: ritual(w).muted_by.filter(pk=w["alice"].pk).exists(),
        page=lambda w: reverse("ritual_mute_link", args=[w["signed"]["mute"]]),
    ),
    # allauth's pages
    "account_login": Case(
        None,
        fixed("account_login"),
        lambda w: {"login": "alice@example.com", "password": PASSWORD},
        lambda w, c: logged_in_as(c) == w["alice"].pk,
        page=fixed("account_login"),
    ),
    "account_signup": Case(
        None,
        fixed("account_signup"),
        lambda w: {
            "display_name": "Erin",
            "email": "erin@example.com",
            "password1": "a-new-and-long-passphrase",
            "time_zone": "Europe/Berlin",
        },
        lambda w, c: User.objects.filter(email="erin@example.com").exists(),
        page=fixed("account_signup"),
    ),
    "account_logout": Case(
        "alice",
        fixed("account_logout"),
        lambda w: {},
        lambda w, c: logged_in_as(c) is None,
        page=fixed("account_logout"),
    ),
    "account_change_password": Case(
        "alice",
        fixed("account_change_password"),
        lambda w: {
            "oldpassword": PASSWORD,
            "password1": "another-long-passphrase",
            "password2": "another-long-passphrase",
        },
        lambda w, c: User.objects.get(pk=w["alice"].pk).check_password("another-long-passphrase"),
        page=fixed("account_change_password"),
    ),
    "account_reset_password": Case(
        None,
        fixed("account_reset_password"),
        lambda w: {"email": "alice@example.com"},
        lambda w, c: len(mail.outbox) == 1,
        page=fixed("account_reset_password"),
    ),
    "account_email": Case(
        "alice",
        fixed("account_email"),
        lambda w: {"action_add": "", "email": "alice.new@example.com"},
        lambda w, c: EmailAddress.objects.filter(email="alice.new@example.com").exists(),
        page=fixed("account_email"),
    ),
}
ALLAUTH_PAGES = [name for name in CASES if name.startswith("account_")]


@pytest.fixture
def world(pair_space, alice, bob, charlie) -> dict:
    charlies_space = services.active_membership(charlie).couple
    _, token, code = services.issue_invitation(charlies_space, charlie)
    dave = UserFactory(email="dave@example.com", display_name="Dave")
    return {
        **pair_space,
        "alice": alice,
        "bob": bob,
        "charlie": charlie,
        "dave": dave,
        "charlie_token": token,
        "charlie_code": code,
    }


def strict_client(w, user: str | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user:
        client.force_login(w[user])
    return client


def request_of(name: str, w) -> tuple[Case | None, str | None, str, dict]:
    """Who sends the request, to where, with what."""
    case = CASES.get(name)
    if case is not None:
        return case, case.user, case.url(w), case.data(w)
    return None, "alice", url_for(name, MATRIX[name], w), {}


def all_patterns() -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                found.append((prefix + str(entry.pattern), entry))

    walk(get_resolver().url_patterns, "")
    return found


def test_the_one_click_unsubscribe_is_the_only_csrf_exempt_view():
    exempt = [
        entry.name or path
        for path, entry in all_patterns()
        if getattr(entry.callback, "csrf_exempt", False)
    ]
    assert exempt == ["unsubscribe"]
    assert len(all_patterns()) > 60  # the walk did reach admin and allauth


def test_every_route_of_ours_that_takes_post_has_a_case(world):
    """Found by asking: a new view taking POST without a case here fails this test."""
    client = Client()
    client.force_login(world["alice"])
    takes_post = set()
    for name in our_route_names():
        with transaction.atomic():
            response = client.post(url_for(name, MATRIX[name], world))
            transaction.set_rollback(True)
        if response.status_code != 405:
            takes_post.add(name)
    assert takes_post - {"unsubscribe"} <= set(CASES), takes_post - set(CASES)
    assert len(takes_post) > 25


@pytest.mark.parametrize("name", sorted(our_route_names() - {"unsubscribe"}) + ALLAUTH_PAGES)
def test_without_the_token_every_unsafe_request_is_refused(world, name):
    case, user, url, data = request_of(name, world)
    if case is not None:
        case.setup(world)
    client = strict_client(world, user)
    before = snapshot()
    for method in UNSAFE:
        response = client.post(url, data) if method == "post" else getattr(client, method)(url)
        assert response.status_code == 403, f"{method.upper()} {name}: {response.status_code}"
        # htmx requests are no exception
        response = client.generic(method.upper(), url, b"", HTTP_HX_REQUEST="true")
        assert response.status_code == 403, f"htmx {method.upper()} {name}"
    assert_unchanged(before, snapshot(), f"{name} without a CSRF token")
    if case is not None:
        assert not case.done(world, client)
        assert mail.outbox == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_with_the_token_from_the_cookie_it_works(world, name, django_capture_on_commit_callbacks):
    case = CASES[name]
    case.setup(world)
    client = strict_client(world, case.user)
    page = client.get(case.page(world))
    assert page.status_code == 200, f"{name}: the page to start from answers {page.status_code}"
    token = client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(case.url(world), {**case.data(world), "csrfmiddlewaretoken": token})
    assert response.status_code not in (403, 500), response.status_code
    assert case.done(world, client), f"{name} with the token did nothing ({response.status_code})"


def test_htmx_requests_work_with_the_token_in_the_header(world):
    client = strict_client(world, "alice")
    client.get(reverse("ritual_detail", args=[world["ritual"].pk]))
    response = client.post(
        reverse("ritual_keep", args=[world["ritual"].pk]),
        {"occurrence": past_occurrence(world["ritual"]).isoformat(), "note": "by htmx"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 200
    assert Completion.objects.filter(note="by htmx").exists()


def test_a_token_of_another_session_is_refused(world):
    """The token is bound to the cookie: one copied from someone else's page fails."""
    theirs = strict_client(world, "bob")
    theirs.get(reverse("dashboard"))
    mine = strict_client(world, "alice")
    mine.get(reverse("dashboard"))
    assert theirs.cookies["csrftoken"].value != mine.cookies["csrftoken"].value
    response = mine.post(
        reverse("ritual_pause", args=[world["ritual"].pk]),
        {"csrfmiddlewaretoken": theirs.cookies["csrftoken"].value},
    )
    assert response.status_code == 403
    assert ritual(world).is_active


def test_the_one_click_unsubscribe_needs_no_cookie_but_its_signed_token(world):
    client = Client(enforce_csrf_checks=True)
    alice = world["alice"]
    forged = links.unsubscribe_token(alice.pk)[:-2] + "xx"
    assert client.post(reverse("unsubscribe", args=[forged])).status_code == 400
    assert User.objects.get(pk=alice.pk).reminders_enabled
    # RFC 8058: the mail client posts "List-Unsubscribe=One-Click", nothing else.
    response = client.post(
        reverse("unsubscribe", args=[links.unsubscribe_token(alice.pk)]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not User.objects.get(pk=alice.pk).reminders_enabled
    assert User.objects.get(pk=world["bob"].pk).reminders_enabled
