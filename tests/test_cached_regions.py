"""Every cached region and page, after every kind of write, is what a fresh render shows.

For each write: both partners open every cached page (``config.regions.PAGES``:
the dashboard, each ritual's pages and a page of its history, the rituals
list, the week, the rhythm, every exercise page), so the cache holds them all; the
write is made the way the app makes it; then each page is read once as the
cache serves it and once rendered from the database with nothing cached,
and the two must be the same bytes (the per-response CSRF token and CSP
nonce aside). A write that changes what a region shows without bumping its
scope (``config.regions``) leaves the old copy in the cache and fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from config import regions
from couples import services
from couples.fragments import csrf_placeholder
from couples.models import Couple
from couples.pages import nonce_placeholder
from exercises import engine, journal
from exercises.models import Session
from home import export as exports
from home.models import DataExport
from rituals.dispatch import dispatch_due_reminders
from rituals.models import Completion, Ritual
from tests.conftest import forget_cached_pages, logged_in
from tests.factories import UserFactory, make_couple, make_ritual
from tests.member_pages import member_pages
from tests.rituals.test_pages import NOW, TODAYS_WALK, VALID

TOKENS = re.compile(r"[A-Za-z0-9]{64}")  # masked CSRF tokens: new on every response
NONCES = re.compile(r'nonce="[^"]*"')
ONCE_KEYS = re.compile(r'name="request_key" value="[^"]*"')  # a new one in every form


@dataclass
class World:
    alice: User
    bob: User
    couple: Couple
    walk: Ritual
    tea: Ritual
    clients: dict[str, Client] = field(default_factory=dict)
    session: Session | None = None

    def rituals(self) -> list[Ritual]:
        return list(Ritual.objects.filter(couple__memberships__user__in=[self.alice, self.bob]))


RITUAL_PAGES = ("ritual_detail", "ritual_edit", "ritual_delete")


def region_urls(world: World) -> list[str]:
    """Every cached page, for the rituals and finished sessions that exist now."""
    urls = []
    for name in regions.PAGES:
        if name in RITUAL_PAGES:
            urls += [reverse(name, args=[ritual.pk]) for ritual in world.rituals()]
        elif name == "exercise_summary":
            finished = Session.objects.filter(couple=world.couple).exclude(status="active")
            urls += [reverse(name, args=[pk]) for pk in finished.values_list("pk", flat=True)]
        else:
            urls.append(reverse(name))
    for ritual in world.rituals():
        page = reverse("ritual_detail", args=[ritual.pk])
        older = int((TODAYS_WALK - timedelta(days=14)).timestamp())
        urls.append(f"{page}?before={older}")
    return sorted(set(urls))


def read_all(world: World) -> dict[tuple[str, str], tuple[int, str]]:
    pages = {}
    for name, client in world.clients.items():
        for url in region_urls(world):
            response = client.get(url)
            body = response.content.decode()
            for pattern in (TOKENS, NONCES, ONCE_KEYS):
                body = pattern.sub("…", body)
            pages[name, url] = (response.status_code, body)
    return pages


def consume_messages(world: World) -> None:
    """Flash messages a write left show once on the next page: read them elsewhere."""
    for client in world.clients.values():
        client.get(reverse("exercise_history"))


def keep(world: World, who: str = "bob") -> None:
    data = {"occurrence": TODAYS_WALK.isoformat(), "together": "on", "note": "lovely"}
    response = world.clients[who].post(reverse("ritual_keep", args=[world.walk.pk]), data)
    assert response.status_code == 302


def undo(world: World) -> None:
    data = {"occurrence": TODAYS_WALK.isoformat()}
    response = world.clients["bob"].post(reverse("ritual_unkeep", args=[world.walk.pk]), data)
    assert response.status_code == 302


def edit(world: World) -> None:
    world.walk.title = "Long evening walk"
    world.walk.description = "Away from screens."
    world.walk.save()


def pause(world: World) -> None:
    response = world.clients["alice"].post(reverse("ritual_pause", args=[world.walk.pk]))
    assert response.status_code == 302


def mute(world: World) -> None:
    response = world.clients["bob"].post(reverse("ritual_nudges", args=[world.walk.pk]))
    assert response.status_code == 302


def add(world: World) -> None:
    url = reverse("ritual_add_template", args=["morning-coffee"])
    assert world.clients["alice"].post(url).status_code == 302


def delete(world: World) -> None:
    response = world.clients["alice"].post(reverse("ritual_delete", args=[world.tea.pk]))
    assert response.status_code == 302


def start_exercise(world: World) -> None:
    world.session = engine.start(world.couple, world.bob, 2, "eye_gazing", "two_devices", {})


def answer_exercise(world: World) -> None:
    for seat, action in [(1, "next"), (1, "ready"), (2, "ready")]:
        engine.act(world.session.pk, world.couple.pk, seat, action, {})


def end_exercise(world: World) -> None:
    engine.act(world.session.pk, world.couple.pk, 1, "end", {})


def daily_answer(world: World) -> None:
    response = world.clients["alice"].post(reverse("daily_question"), {"text": "The sea."})
    assert response.status_code == 302


def appreciation(world: World) -> None:
    today = NOW.date()
    journal.save_appreciations(world.couple, world.bob, today, [(1, "Your laugh", "shared")])


def leave(world: World) -> None:
    services.leave_couple(world.bob)


def join(world: World) -> None:
    invitation, _, _ = services.issue_invitation(world.couple, world.alice)
    services.accept_invitation(world.bob, invitation.pk)


def rename(world: World) -> None:
    world.bob.display_name = "Robert"
    world.bob.save()


def profile_form(world: World) -> None:
    data = {"display_name": "Ally", "time_zone": "Asia/Tokyo", "reminders_enabled": "on"}
    response = world.clients["alice"].post(reverse("profile"), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def reminders_off(world: World) -> None:
    data = {"display_name": "Alice", "time_zone": "Europe/Berlin"}
    response = world.clients["alice"].post(reverse("profile"), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def new_calendar_address(world: World) -> None:
    response = world.clients["bob"].post(reverse("calendar_regenerate"))
    assert response.status_code == 302


def space_zone(world: World) -> None:
    world.couple.time_zone = "Asia/Tokyo"  # the day of today's question moves
    world.couple.save()


def reminder_tick(world: World) -> None:
    dispatch_due_reminders(NOW + timedelta(days=1))


def ask_for_export(world: World) -> None:
    # The build is queued after commit, which a test's transaction never does.
    response = world.clients["alice"].post(reverse("export_prepare"))
    assert response.status_code == 302


def build_export(world: World) -> None:
    export = DataExport.objects.get(user=world.alice)
    assert exports.build(export.pk, str(export.token)) == "ready"


def fail_export(world: World) -> None:
    export = DataExport.objects.get(user=world.alice)
    exports.SECTIONS["broken"] = lambda user: 1 / 0
    try:
        for _ in range(exports.MAX_BUILD_ATTEMPTS):
            DataExport.objects.filter(pk=export.pk).update(build_due_at=NOW)
            exports.build(export.pk, str(export.token))
    finally:
        del exports.SECTIONS["broken"]
    assert DataExport.objects.get(pk=export.pk).failed_at is not None


@dataclass(frozen=True)
class Case:
    write: Callable[[World], None]
    before: tuple[Callable[[World], None], ...] = ()
    solo: bool = False  # bob is not in the space yet


CASES = {
    "keep": Case(keep),
    "undo": Case(undo, before=(keep,)),
    "edit ritual": Case(edit),
    "pause": Case(pause),
    "mute": Case(mute),
    "add ritual": Case(add),
    "delete ritual": Case(delete),
    "exercise start": Case(start_exercise),
    "exercise answer": Case(answer_exercise, before=(start_exercise,)),
    "exercise end": Case(end_exercise, before=(start_exercise,)),
    "daily answer": Case(daily_answer),
    "appreciation": Case(appreciation),
    "leave": Case(leave, before=(keep,)),
    "join": Case(join, solo=True),
    "rename": Case(rename, before=(keep,)),
    "profile and time zone": Case(profile_form, before=(keep,)),
    "reminders off": Case(reminders_off),
    "new calendar address": Case(new_calendar_address),
    "space time zone": Case(space_zone),
    "reminder tick": Case(reminder_tick),
    "export asked": Case(ask_for_export),
    "export built": Case(build_export, before=(ask_for_export,)),
    "export asked again": Case(ask_for_export, before=(ask_for_export, build_export)),
    "export failed": Case(fail_export, before=(ask_for_export,)),
    "export asked after failing": Case(ask_for_export, before=(ask_for_export, fail_export)),
}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def make_world(solo: bool) -> World:
    alice = UserFactory(display_name="Alice", time_zone="Europe/Berlin")
    bob = UserFactory(display_name="Bob", time_zone="America/New_York")
    couple = make_couple(alice) if solo else make_couple(alice, bob)
    walk = make_ritual(couple, now=NOW)
    tea = make_ritual(couple, now=NOW, title="Tea together", rrule="FREQ=WEEKLY;BYDAY=WE")
    Completion.objects.create(
        ritual=walk, occurrence_at=TODAYS_WALK - timedelta(days=1), user=alice
    )
    world = World(alice, bob, couple, walk, tea)
    world.clients = {"alice": logged_in(alice), "bob": logged_in(bob)}
    if not solo:  # one finished exercise, for its summary page
        done = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
        engine.act(done.pk, couple.pk, 1, "end", {})
    return world


def fresh_and_cached_after(world: World, case: Case):
    for step in case.before:
        step(world)
    consume_messages(world)
    read_all(world)  # fill the cache
    case.write(world)
    consume_messages(world)
    cached = read_all(world)
    forget_cached_pages()
    fresh = read_all(world)
    return cached, fresh


@pytest.mark.parametrize("name", list(CASES))
def test_every_region_after_each_write_is_what_a_fresh_render_shows(db, frozen, name):
    case = CASES[name]
    world = make_world(case.solo)
    cached, fresh = fresh_and_cached_after(world, case)
    assert cached.keys() == fresh.keys()
    differing = [page for page in fresh if cached[page] != fresh[page]]
    assert not differing, f"stale after {name}: {differing}"
    # Pages were shown at all (not every one an error or a redirect).
    assert any(status == 200 for status, _ in fresh.values())


def test_the_comparison_sees_a_write_that_skips_its_bump(db, frozen):
    """The test above can fail: a mark written behind the model's back (no
    bump) leaves both pages stale, and the comparison says so."""

    def behind_the_back(world: World) -> None:
        Completion.objects.create(ritual=world.walk, occurrence_at=TODAYS_WALK, user=world.bob)

    world = make_world(solo=False)
    cached, fresh = fresh_and_cached_after(world, Case(behind_the_back))
    differing = {url for (_, url), page in fresh.items() if cached[_, url] != page}
    assert "/" in differing
    assert reverse("ritual_detail", args=[world.walk.pk]) in differing
    assert reverse("rhythm") in differing  # a page kept whole


def test_a_live_exercise_click_leaves_the_ritual_pages_cached(db, frozen):
    world = make_world(solo=False)
    start_exercise(world)
    scopes = regions.REGIONS["ritual"]([world.walk.pk])
    before = regions.versions(world.couple.pk, scopes)
    dashboard = regions.versions(world.couple.pk, regions.REGIONS["dashboard"]([]))
    answer_exercise(world)
    assert regions.versions(world.couple.pk, scopes) == before
    assert regions.versions(world.couple.pk, regions.REGIONS["dashboard"]([])) == dashboard
    end_exercise(world)
    assert regions.versions(world.couple.pk, regions.REGIONS["dashboard"]([])) != dashboard
    assert regions.versions(world.couple.pk, scopes) == before


def test_keeping_one_ritual_leaves_the_other_rituals_page_cached(db, frozen):
    world = make_world(solo=False)
    tea = regions.REGIONS["ritual"]([world.tea.pk])
    walk = regions.REGIONS["ritual"]([world.walk.pk])
    tea_before = regions.versions(world.couple.pk, tea)
    walk_before = regions.versions(world.couple.pk, walk)
    keep(world)
    assert regions.versions(world.couple.pk, tea) == tea_before
    assert regions.versions(world.couple.pk, walk) != walk_before


def test_a_keep_leaves_the_exercise_pages_and_the_rhythms_journal_cached(db, frozen):
    """A keep redraws what shows rituals (the dashboard, the rhythm's rituals),
    not the pages of what the two wrote; an answer redraws those, not the rituals."""
    world = make_world(solo=False)
    history = regions.PAGES["exercise_history"]({})
    kept, journal = regions.REGIONS["rhythm_kept"]([]), regions.REGIONS["rhythm_journal"]([])

    def now(scopes):
        return regions.versions(world.couple.pk, scopes)

    history_before, kept_before, journal_before = now(history), now(kept), now(journal)
    keep(world)
    assert now(history) == history_before and now(journal) == journal_before
    assert now(kept) != kept_before
    kept_before = now(kept)
    appreciation(world)
    assert now(history) != history_before and now(journal) != journal_before
    assert now(kept) == kept_before


def test_every_member_page_is_cached_or_says_why():
    cached, not_cached = set(regions.PAGES), set(regions.NOT_CACHED)
    assert not cached & not_cached
    assert cached | not_cached == member_pages()


def test_a_kept_page_is_served_without_its_view(db, frozen):
    """The second look at a page runs only the viewer's query: the view's own
    (rituals, marks, schedules) are not run again. A write it shows brings them back."""
    world = make_world(solo=False)
    client = world.clients["alice"]

    def queries_of_a_look() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("rituals"))
        assert response.status_code == 200
        return len(queries), response.content.decode()

    first, _ = queries_of_a_look()
    again, _ = queries_of_a_look()
    assert (first, again) >= (3, 1) and again == 1
    edit(world)
    after_edit, page = queries_of_a_look()
    assert after_edit == first and "Long evening walk" in page


def test_a_kept_form_still_acts_once_with_this_responses_token(db, frozen):
    """Each response of a kept page has its own CSRF token, nonce and once-only
    key, and the form posts with them."""
    world = make_world(solo=False)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    pages = [client.get(reverse("ritual_new")) for _ in range(3)]
    keys = [re.search(r'name="request_key" value="([^"]*)"', p.content.decode())[1] for p in pages]
    assert len(set(keys)) == 3
    for page in pages:
        body = page.content.decode()
        assert csrf_placeholder() not in body and nonce_placeholder() not in body
        nonce = re.search(r'nonce="([^"]+)"', body)[1]
        assert f"'nonce-{nonce}'" in page["Content-Security-Policy"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', pages[-1].content.decode())[1]
    data = {**VALID, "title": "Morning tea", "csrfmiddlewaretoken": token, "request_key": keys[-1]}
    response = client.post(reverse("ritual_new"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Ritual.objects.filter(couple=world.couple, title="Morning tea").count() == 1


def test_a_kept_page_is_served_only_to_the_partner_it_was_rendered_for(db, frozen):
    """Kept whole per viewer: the partner opening the same address gets their
    own page, and an outsider a 404, even while the owner's copy is kept."""
    world = make_world(solo=False)
    world.bob.time_zone = world.alice.time_zone  # nothing but who they are tells them apart
    world.bob.save()
    outsider = UserFactory(display_name="Charlie", time_zone=world.alice.time_zone)
    make_couple(outsider)
    charlie = logged_in(outsider)
    settings_page, ritual_page = reverse("profile"), reverse("ritual_detail", args=[world.walk.pk])
    for url in (settings_page, ritual_page):
        assert world.clients["alice"].get(url).status_code == 200  # kept now
        assert world.clients["alice"].get(url).status_code == 200  # served from the copy
    assert 'value="Alice"' in world.clients["alice"].get(settings_page).content.decode()
    bobs = world.clients["bob"].get(settings_page).content.decode()
    assert 'value="Bob"' in bobs and 'value="Alice"' not in bobs
    assert charlie.get(ritual_page).status_code == 404
    assert "Evening walk" not in charlie.get(ritual_page).content.decode()
