"""Every page, on a phone and a laptop, in light and dark: no sideways scrolling, no
accessibility violation, and a screenshot of each.

The member pages come from the URLconf (``tests.member_pages``), so a new page
is covered without being listed here; pages that need an object (a ritual, a
session) take one from the seeded space. The space is lived in, and by people
who type long things: an 80-letter ritual title without a space, 60-letter
names, emoji, long notes and answers.

Each page is loaded three times in one browser page:
- 360×740, light: its width, axe-core, touch targets of 44 px, a phone screenshot;
- 390×844, dark: its width, axe-core, a dark phone screenshot;
- 1280×800, light: its width and a desktop screenshot.
Screenshots go to var/test-artifacts/pages/. axe-core is vendored in
static/vendor/axe-core (tests only) and added before each page's own scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page

from couples import services
from exercises import daily, engine, journal
from exercises.models import Entry, Session, Visibility
from rituals import links
from rituals.models import Completion, ReminderDelivery
from tests.e2e.conftest import ROOT
from tests.e2e.test_pairing import assert_no_browser_problems
from tests.factories import UserFactory, make_couple, make_ritual
from tests.member_pages import DOWNLOADS, member_pages
from tests.test_query_growth import write_steps

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
PHONE_DARK = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# What people type, at the longest the forms allow.
LONG_TITLE = ("Pancakes" * 10)[:80]  # 80 letters, no space
LONG_NAME = ("Annemarie" * 7)[:60]  # 60 letters
PARTNER_NAME = ("Bartholomew" * 6)[:58] + "🌻"
LONG_WORD = "thankyouforlisteningtomeallevening" * 4
COUPLE_NAME = ("Ourlittlehome" * 6)[:76] + " 🏡"

# What sticks out: boxes past the right edge, and boxes whose own content
# (a long word in a fixed-width box) runs past theirs.
WIDEST = """() => {
    const limit = document.documentElement.clientWidth;
    const name = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
    const out = [...document.querySelectorAll("body *")].filter((el) =>
        el.getBoundingClientRect().right > limit + 1
        || (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible"
            && el.children.length === 0));
    return out.slice(-4).map((el) => `${name(el)} (right edge `
        + `${Math.round(el.getBoundingClientRect().left + el.scrollWidth)})`);
}"""
# Controls a thumb aims at, and how tall each is (links inside prose are
# exempt, as WCAG allows; a checkbox's target is its label's row).
SMALL_TARGETS = """() => {
    const selector = [
        "button", "summary", "a.button", "select", "textarea",
        "input:not([type=hidden], [type=checkbox], [type=radio])",
        ".tabs a", ".tile", ".link-list a", ".breadcrumbs a", ".more-links a", ".jump a",
        ".check > label", ".start-step a", ".pager a", ".space-actions a",
    ].join(", ");
    return [...document.querySelectorAll(selector)]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => el.getBoundingClientRect().height < 43.5)
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} `
            + `"${el.textContent.trim().slice(0, 30)}" `
            + `${Math.round(el.getBoundingClientRect().height)}px`);
}"""
AXE_RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + n.failureSummary),
    }));
}"""


@dataclass(frozen=True)
class Visit:
    label: str  # also the screenshot's name
    who: str  # whose browser: a key of the sessions, or "" for a visitor
    url: str


def seed_lived_in_space() -> dict:
    """Alice and her partner, after a few weeks of Tend, with long words everywhere."""
    alice = UserFactory(email="alice@example.com", display_name=LONG_NAME)
    bob = UserFactory(email="bob@example.com", display_name=PARTNER_NAME)
    couple = make_couple(alice, bob, name=COUPLE_NAME)
    now = timezone.now()
    today = timezone.localdate(now, alice.zone)
    ritual = make_ritual(couple, title=LONG_TITLE, start_date=today - timedelta(days=40))
    make_ritual(
        couple,
        title="🌿 Sunday walk by the river 🌿",
        rrule="FREQ=WEEKLY;BYDAY=SU",
        start_date=today - timedelta(days=40),
    )
    yesterday = ritual.schedule.previous_before(now - timedelta(days=1), 1)[0]
    Completion.objects.create(
        ritual=ritual, occurrence_at=yesterday, user=bob, together=True, note=LONG_WORD[:280]
    )
    finished = {}
    for kind in ("eye_gazing", "weekly_checkin", "love_maps", "temperature"):
        session = engine.start(couple, alice, 1, kind, "two_devices", {})
        seats = {1: alice, 2: bob}
        for key, seat, visibility, data in write_steps(session):
            Entry.objects.create(
                couple=couple,
                session=session,
                author=seats[seat],
                prompt_key=key,
                visibility=visibility,
                text=f"{LONG_WORD} 💛",
                data=data,
            )
        session.step = len(engine.flow_for(session).steps(session))
        engine.finish(session, Session.Status.FINISHED)
        session.save()
        finished[kind] = session
    live = engine.start(couple, bob, 2, "eye_gazing", "two_devices", {})
    day = daily.couple_today(couple)
    daily.answer(couple, alice, day, f"{LONG_WORD} and a garden 🌱")
    daily.answer(couple, bob, day, "Anywhere with you. " + LONG_WORD)
    for user in (alice, bob):
        journal.save_appreciations(
            couple,
            user,
            today,
            [
                (1, LONG_WORD, Visibility.SHARED),
                (2, "Tea in bed ☕", Visibility.PRIVATE),
                (3, "", ""),
            ],
        )
        journal.save_quiz(couple, user, {item["key"]: "a" for item in journal.quiz()["item"]})
    statements = journal.self_check()["statement"]
    Entry.objects.create(
        couple=couple,
        author=alice,
        prompt_key=f"{journal.SELF_CHECK}{today.isoformat()}",
        visibility=Visibility.PRIVATE,
        data={"answers": {s["key"]: "often" for s in statements}},
    )
    story = sorted(journal.prompts())[0]
    for user in (alice, bob):
        Entry.objects.create(
            couple=couple,
            author=user,
            prompt_key=f"{journal.STORY}{story}",
            visibility=Visibility.SEALED,
            text=LONG_WORD,
        )
    delivery = ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=alice
    )
    return {
        "alice": alice,
        "ritual": ritual,
        "live": live,
        "finished": finished,
        "story": story,
        "signed": {
            "ritual_done_link": links.done_token(delivery.pk),
            "ritual_mute_link": links.mute_token(ritual.pk, alice.pk),
            "unsubscribe": links.unsubscribe_token(alice.pk),
        },
    }


def member_url(name: str, space: dict) -> str:
    """The address of a member page, with the seeded object it needs."""
    by_object = {
        "ritual_detail": [space["ritual"].pk],
        "ritual_edit": [space["ritual"].pk],
        "ritual_delete": [space["ritual"].pk],
        "exercise_session": [space["live"].pk],
        "exercise_summary": [space["finished"]["eye_gazing"].pk],
    }
    try:
        return reverse(name, args=by_object.get(name, []))
    except NoReverseMatch:
        pytest.fail(f"{name} needs an object: say which in member_url()")


def visits(space: dict, others: dict) -> list[Visit]:
    found = [
        Visit(name, "alice", member_url(name, space))
        for name in sorted(member_pages() - set(DOWNLOADS))
    ]
    found += [
        Visit(
            "exercise_session-finished",
            "alice",
            reverse("exercise_session", args=[space["finished"]["weekly_checkin"].pk]),
        ),
        Visit(
            "exercise_summary-love_maps",
            "alice",
            reverse("exercise_summary", args=[space["finished"]["love_maps"].pk]),
        ),
        Visit("our_story-memory", "alice", reverse("our_story") + f"?prompt={space['story']}"),
        Visit("dashboard-new-pair", "newbie", "/"),
        Visit("dashboard-solo", "solo", "/"),
        Visit("join-solo", "solo", reverse("join")),
        Visit("start-no-space", "nospace", "/"),
        Visit("landing", "", "/"),
        Visit("login", "", reverse("account_login")),
        Visit("signup", "", reverse("account_signup")),
        Visit("password-reset", "", reverse("account_reset_password")),
        Visit("get_help-visitor", "", reverse("get_help")),
        Visit("invitation-visitor", "", reverse("invitation", args=[others["token"]])),
    ]
    found += [
        Visit(f"{name}-visitor", "", reverse(name, args=[token]))
        for name, token in space["signed"].items()
    ]
    return found


def seed_others() -> dict:
    """A pair who just joined, someone alone with an open invitation, someone with no space."""
    newbie = UserFactory(display_name="Noor")
    make_couple(newbie, UserFactory(display_name="Sam"))
    solo = UserFactory(
        display_name=LONG_NAME, email=("averyveryverylongaddress" * 2) + "@example.com"
    )
    space = make_couple(solo)
    _, token, _ = services.issue_invitation(
        space, solo, email=("partnerwithaverylongaddress" * 2) + "@example.com"
    )
    nospace = UserFactory(display_name=PARTNER_NAME)
    return {"newbie": newbie, "solo": solo, "nospace": nospace, "token": token}


def browser_for(browser: Browser, site: str, user, problems) -> Page:
    context = browser.new_context(
        locale="en-GB", timezone_id="Europe/Berlin", reduced_motion="reduce"
    )
    context.set_default_timeout(15_000)
    context.add_init_script(script=AXE.read_text())
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
    return problems.watch(context.new_page(), getattr(user, "email", "visitor"))


def shoot(page: Page, path: Path) -> None:
    """The whole page, with the phone's tab bar at its foot rather than mid-page."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.screenshot(path=path, caret="initial")  # see tests.e2e.test_pairing.screenshot
    page.set_viewport_size(size)


def look(page: Page, url: str, viewport: dict, scheme: str, axe: bool) -> dict:
    page.set_viewport_size(viewport)
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    response = page.goto(url, wait_until="load")
    found = {
        "status": response.status if response else 0,
        "width": page.evaluate("document.documentElement.scrollWidth"),
        "widest": [],
        "violations": [],
        "small": page.evaluate(SMALL_TARGETS) if viewport is PHONE else [],
    }
    if found["width"] > viewport["width"]:
        found["widest"] = page.evaluate(WIDEST)
    if axe:
        found["violations"] = page.evaluate(AXE_RUN)
    return found


def test_every_page_fits_a_phone_and_passes_axe_in_light_and_dark(
    site, browser, browser_problems, artifacts_dir
):
    space = seed_lived_in_space()
    others = seed_others()
    users = {"alice": space["alice"], **{k: others[k] for k in ("newbie", "solo", "nospace")}}
    pages = {who: browser_for(browser, site, users.get(who), browser_problems) for who in users}
    pages[""] = browser_for(browser, site, None, browser_problems)
    shots = artifacts_dir / "pages"
    shots.mkdir(exist_ok=True)

    problems: list[str] = []
    widths: dict[str, list[int]] = {}
    try:
        for visit in visits(space, others):
            page = pages[visit.who]
            url = site + visit.url
            for viewport, scheme, suffix in (
                (PHONE, "light", "phone"),
                (PHONE_DARK, "dark", "phone-dark"),
                (DESKTOP, "light", "desktop"),
            ):
                seen = look(page, url, viewport, scheme, axe=suffix != "desktop")
                widths.setdefault(visit.label, []).append(seen["width"])
                where = f"{visit.label} ({visit.url}) at {viewport['width']}px {scheme}"
                if seen["status"] >= 400:
                    problems.append(f"{where}: status {seen['status']}")
                if seen["width"] > viewport["width"]:
                    problems.append(f"{where}: {seen['width']}px wide, by {seen['widest']}")
                if seen["small"]:
                    problems.append(f"{where}: targets under 44 px: {seen['small']}")
                for violation in seen["violations"]:
                    problems.append(f"{where}: axe {json.dumps(violation, ensure_ascii=False)}")
                shoot(page, shots / f"{visit.label}-{suffix}.png")
    finally:
        for page in pages.values():
            page.context.close()

    print(f"\n{len(widths)} pages; widest at 360/390/1280 px: {max_widths(widths)}")
    assert problems == [], "\n".join(problems)
    assert_no_browser_problems(browser_problems)


def max_widths(widths: dict[str, list[int]]) -> list[int]:
    return [max(w[i] for w in widths.values()) for i in range(3)]
