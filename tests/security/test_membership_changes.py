"""Every way a pairing ends, then a new partner joins: nothing of the old pairing reaches them.

Hank and Ivy share a space and write something of every kind in it (ritual
notes, shared, sealed and private entries, sessions with notes, a live
session with a sealed answer). Then their pairing ends, in each of the ways
a couple can change, and Jane joins Ivy. Jane is then asked for every route
of the URLconf (``tests.test_access_matrix.MATRIX``, which must name every
route), with every object of the old space, as a page and as an htmx
fragment, and after answering the same prompts Ivy once sealed. None of the
old words may appear, and every old object answers 404. Ivy, who stayed,
sees exactly what the README promises: until someone new joins, the space
with what Hank left behind (his shared words after leaving, nothing of his
after deleting); after, a fresh space, and her old words only in her export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from couples import services
from couples.models import Couple, Invitation
from exercises import daily, engine
from exercises.models import Entry, Session, Visibility
from rituals import calendar, dispatch, links
from rituals.models import Completion, ReminderDelivery, Ritual
from tests.conftest import logged_in
from tests.exports import prepared_export
from tests.factories import PASSWORD, UserFactory, make_ritual
from tests.security.conftest import past_occurrence
from tests.test_access_matrix import MATRIX

SPACE_NAME = "Lighthouse Q9 space"
HANK = {
    "name": "Hankq9",
    "email": "hank-q9@example.com",
    "ritual": "HANK Q9 ritual title",
    "ritual_prompt": "HANK Q9 ritual prompt",
    "note": "HANK Q9 kept note",
    "shared": "HANK Q9 shared reflection",
    "temperature": "HANK Q9 temperature note",
    "private": "HANK Q9 private appreciation",
    "sealed": "HANK Q9 sealed story",
    "daily": "HANK Q9 daily answer",
    "weekly": "HANK Q9 weekly sealed",
    "live": "HANK Q9 live sealed",
}
IVY = {
    "name": "Ivy",
    "email": "ivy-q9@example.com",
    "ritual": "IVY Q9 ritual title",
    "ritual_prompt": "IVY Q9 ritual prompt",
    "note": "IVY Q9 kept note",
    "shared": "IVY Q9 shared reflection",
    "temperature": "IVY Q9 temperature note",
    "private": "IVY Q9 private appreciation",
    "sealed": "IVY Q9 sealed story",
    "daily": "IVY Q9 daily answer",
    "weekly": "IVY Q9 weekly sealed",
    "live": "IVY Q9 live shared",
}
# The words each wrote: every one must stay out of the new pairing.
WRITTEN = ("ritual", "ritual_prompt", "note", "shared", "temperature", "private")
WRITTEN += ("sealed", "daily", "weekly")
STORY_PROMPT = "how-we-met"
WEEKLY_PROMPT = "weekly_checkin:went-well"


# What a person wrote for themselves or each other; a ritual's title belongs to the space.
PERSONAL = ("note", "shared", "temperature", "private", "sealed", "daily", "weekly", "live")


def words_of(person: dict) -> list[str]:
    return [person[key] for key in WRITTEN]


@dataclass
class OldSpace:
    couple: Couple
    hank: User
    ivy: User
    live: Session | None = None
    feed_tokens: list[str] = field(default_factory=list)
    reminders_due: list = field(default_factory=list)
    signed: list[str] = field(default_factory=list)


def write(couple: Couple, author: User, words: dict, finished: list[Session]) -> None:
    """One of everything, in every visibility, as ``author``."""
    ritual = make_ritual(
        couple, title=words["ritual"], prompt=words["ritual_prompt"], created_by=author
    )
    for kept in Ritual.objects.filter(couple=couple):
        Completion.objects.create(
            ritual=kept, occurrence_at=past_occurrence(kept), user=author, note=words["note"]
        )
    gazing, temperature, weekly = finished
    Entry.objects.create(
        couple=couple, session=gazing, author=author, prompt_key="eye_gazing:reflect",
        text=words["shared"],
    )  # fmt: skip
    Entry.objects.create(
        couple=couple, session=temperature, author=author,
        prompt_key="temperature:appreciations", text=words["temperature"],
    )  # fmt: skip
    Entry.objects.create(
        couple=couple, session=weekly, author=author, prompt_key=WEEKLY_PROMPT,
        text=words["weekly"], visibility=Visibility.SEALED,
    )  # fmt: skip
    today = timezone.localdate(timezone.now(), author.zone)
    Entry.objects.create(
        couple=couple, author=author, prompt_key=f"appreciation:{today.isoformat()}:1",
        text=words["private"], visibility=Visibility.PRIVATE,
    )  # fmt: skip
    daily.answer(couple, author, daily.couple_today(couple), words["daily"])
    ReminderDelivery.objects.create(
        ritual=ritual, occurrence_at=ritual.next_occurrence_at, recipient=author
    )


def finished_session(couple: Couple, starter: User, kind: str) -> Session:
    session = engine.start(couple, starter, 1, kind, "two_devices", {})
    engine.act(session.pk, couple.pk, 1, "end", {})
    session.refresh_from_db()
    return session


def build(live: bool) -> OldSpace:
    hank = UserFactory(email=HANK["email"], display_name=HANK["name"])
    ivy = UserFactory(email=IVY["email"], display_name=IVY["name"])
    couple = services.create_space(ivy, name=SPACE_NAME)
    invitation, _, _ = services.issue_invitation(couple, ivy)
    services.accept_invitation(hank, invitation.pk)
    finished = [finished_session(couple, ivy, k) for k in ("eye_gazing", "temperature")]
    finished.append(finished_session(couple, ivy, "weekly_checkin"))
    write(couple, hank, HANK, finished)
    write(couple, ivy, IVY, finished)
    # Ivy's sealed story is on the prompt Jane will answer too; Hank's is unmatched.
    Entry.objects.create(
        couple=couple, author=ivy, prompt_key=f"story:{STORY_PROMPT}", text=IVY["sealed"],
        visibility=Visibility.SEALED,
    )  # fmt: skip
    Entry.objects.create(
        couple=couple, author=hank, prompt_key="story:first-impressions", text=HANK["sealed"],
        visibility=Visibility.SEALED,
    )  # fmt: skip
    space = OldSpace(couple=couple, hank=hank, ivy=ivy)
    if live:
        # A weekly check-in in progress: Hank has sealed his first answer.
        space.live = engine.start(couple, hank, 2, "weekly_checkin", "two_devices", {})
        while engine.current_step(space.live).kind != "write":
            space.live = engine.act(space.live.pk, couple.pk, 2, "next", {})
        space.live = engine.act(space.live.pk, couple.pk, 2, "submit", {"text": HANK["live"]})
    couple.refresh_from_db()
    space.feed_tokens.append(calendar.feed_token(couple))
    space.reminders_due = [r.next_reminder_at for r in Ritual.objects.filter(couple=couple)]
    for delivery in ReminderDelivery.objects.filter(ritual__couple=couple):
        space.signed += [
            reverse("ritual_done_link", args=[links.done_token(delivery.pk)]),
            reverse(
                "ritual_mute_link",
                args=[links.mute_token(delivery.ritual_id, delivery.recipient_id)],
            ),
        ]
    return space


# --- the ways a pairing ends ---------------------------------------------------


def leave(user: User) -> None:
    response = logged_in(user).post(reverse("leave"), {"confirm": "on"})
    assert response.status_code == 302


def delete(user: User) -> None:
    response = logged_in(user).post(reverse("delete_account"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()


def invite_and_join(inviter: User, joiner: User) -> Couple:
    """The inviter asks for a link; the joiner opens it and accepts."""
    mine = services.active_membership(inviter)
    _, token, _ = services.issue_invitation(mine.couple, inviter)
    response = logged_in(joiner).post(reverse("invitation", args=[token]))
    assert response.status_code == 302, response.content.decode()[:500]
    return services.active_membership(joiner).couple


def join_by_code(inviter: User, joiner: User) -> Couple:
    mine = services.active_membership(inviter)
    _, _, code = services.issue_invitation(mine.couple, inviter)
    response = logged_in(joiner).post(reverse("join"), {"code": code})
    assert response.status_code == 302, response.content.decode()[:500]
    return services.active_membership(joiner).couple


def end_by_leaving(space: OldSpace) -> User:
    leave(space.hank)
    return UserFactory(email="jane-q9@example.com", display_name="Jane")


def end_by_deleting(space: OldSpace) -> User:
    delete(space.hank)
    return UserFactory(email="jane-q9@example.com", display_name="Jane")


def end_by_both_leaving(space: OldSpace) -> User:
    leave(space.hank)
    leave(space.ivy)
    response = logged_in(space.ivy).post(reverse("create_space"), {"name": ""})
    assert response.status_code == 302
    return UserFactory(email="jane-q9@example.com", display_name="Jane")


def end_by_deleting_then_coming_back(space: OldSpace) -> User:
    """Hank deletes his account, signs up again with the same address and is invited back:
    a new account is a new partner, whoever holds the address."""
    delete(space.hank)
    return UserFactory(email=HANK["email"], display_name="Hank again")


ENDINGS = {
    "leave": (end_by_leaving, False, invite_and_join),
    "delete": (end_by_deleting, False, join_by_code),
    "both-leave": (end_by_both_leaving, False, invite_and_join),
    "delete-then-reinvite": (end_by_deleting_then_coming_back, False, invite_and_join),
    "leave-mid-session": (end_by_leaving, True, join_by_code),
    "delete-mid-session": (end_by_deleting, True, invite_and_join),
}


# --- asking every route --------------------------------------------------------


def old_urls(
    name: str, space: OldSpace, new_couple: Couple, viewer: User
) -> list[tuple[str, bool]]:
    """Every address of route ``name`` that could show something of the old space,
    each with whether it names an object (ritual, session, invitation) of it."""
    route = MATRIX[name]
    old = space.couple
    objects = None
    if route.uses_ritual:
        objects = Ritual.objects.filter(couple=old)
    elif route.uses_session:
        objects = Session.objects.filter(couple=old)
    elif route.uses_invitation:
        objects = Invitation.objects.filter(couple=old)
    if objects is not None:
        return [(reverse(name, args=[pk]), True) for pk in objects.values_list("pk", flat=True)]
    if route.uses_export:
        # Her own download, prepared now: what she takes with her.
        urls = [reverse(name, args=[prepared_export(viewer).token])]
    elif route.uses_token:
        # The viewer's own link is the only one they hold.
        _, token, _ = services.issue_invitation(new_couple, viewer)
        urls = [reverse(name, args=[token])]
    elif route.signed == "feed":
        tokens = [*space.feed_tokens, calendar.feed_token(old), calendar.feed_token(new_couple)]
        urls = [reverse(name, args=[token]) for token in tokens]
    elif route.signed == "unsubscribe":
        urls = [reverse(name, args=[links.unsubscribe_token(viewer.pk)])]
    elif route.signed:
        # Old reminder links of the two who were here, should one ever be forwarded.
        prefix = reverse(name, args=["x"]).removesuffix("x/")
        urls = [url for url in space.signed if url.startswith(prefix)]
    elif name == "exercise_start":
        urls = [reverse(name, args=["eye_gazing"])]
    elif name == "ritual_add_template":
        urls = [reverse(name, args=["daily-check-in"])]
    elif name == "our_story":
        urls = [reverse(name), f"{reverse(name)}?prompt={STORY_PROMPT}"]
    else:
        urls = [reverse(name)]
    return [(url, False) for url in urls]


def without_tokens(text: str) -> str:
    # Random CSRF tokens and nonces could spell a word by chance. (The words
    # looked for have spaces, so this never removes one of them.)
    return re.sub(r"[A-Za-z0-9_-]{24,}", "", text)


def crawl(viewer: User, space: OldSpace, *, member_of_old: bool) -> dict[str, str]:
    """Every route, with every old object, as a page and as an htmx fragment.

    An outsider to the old space also posts to every route that takes one of
    its objects (it must answer 404 and change nothing); a member of it only
    reads, so the crawl doesn't change what it is looking at.
    """
    client = logged_in(viewer)
    new_couple = services.active_membership(viewer).couple
    seen = {}
    for name in sorted(MATRIX):
        route = MATRIX[name]
        for url, names_old_object in old_urls(name, space, new_couple, viewer):
            if route.method == "post" and (member_of_old or not names_old_object):
                continue
            if name == "exercise_poll":
                url += "?v=0"
            for headers in ({}, {"HX-Request": "true"}):
                response = getattr(client, route.method)(url, headers=headers)
                assert response.status_code < 500, (name, url, response.status_code)
                if names_old_object and not member_of_old:
                    assert response.status_code == 404, (name, url, response.status_code)
                seen[f"{route.method.upper()} {url} {headers}"] = without_tokens(
                    response.content.decode(errors="replace")
                )
    return seen


def pop_download(pages: dict[str, str]) -> str:
    """Take the crawl's export download out of its pages (as a page and as a
    fragment: the same file) and return it."""
    zero = "00000000-0000-0000-0000-000000000000"
    before, after = f"GET {reverse('export_download', args=[zero])} ".split(zero)
    download = f"{re.escape(before)}[0-9a-f-]{{36}}{re.escape(after)}"
    found = sorted(key for key in pages if re.match(download, key))
    assert len(found) == 2, found
    texts = {pages.pop(key) for key in found}
    assert len(texts) == 1
    return texts.pop()


def leaks(pages: dict[str, str], words: list[str]) -> list[tuple[str, str]]:
    return [(where, word) for where, page in pages.items() for word in words if word in page]


def answer_what_ivy_answered(client: Client) -> None:
    """The newcomer answers the same prompts the old pairing sealed."""
    story = reverse("our_story") + f"?prompt={STORY_PROMPT}"
    assert client.post(story, {"text": "Jane-side-of-meeting"}).status_code == 302
    assert client.post(reverse("daily_question"), {"text": "Jane-daily"}).status_code == 302


def change(name: str) -> dict:
    """Build the old space, end its pairing the named way, and let the newcomer join."""
    ending, live, join = ENDINGS[name]
    space = build(live=live)
    newcomer = ending(space)
    still_there = services.active_membership(space.ivy).couple == space.couple
    ivy_alone = crawl(space.ivy, space, member_of_old=still_there)
    new_couple = join(space.ivy, newcomer)
    return {
        "name": name,
        "space": space,
        "newcomer": newcomer,
        "new_couple": new_couple,
        "ivy_alone": ivy_alone,
    }


@pytest.fixture(params=sorted(ENDINGS))
def changed(request, db):
    return change(request.param)


def test_the_newcomer_joins_a_fresh_space(changed):
    space, new_couple = changed["space"], changed["new_couple"]
    assert new_couple.pk != space.couple.pk
    assert not new_couple.rituals.exists()
    assert not new_couple.sessions.exists()
    assert not new_couple.entries.exists()
    assert new_couple.name != SPACE_NAME
    assert services.active_membership(space.ivy).couple == new_couple
    space.couple.refresh_from_db()
    assert space.couple.is_archived


def test_the_newcomer_sees_nothing_of_the_old_pairing_on_any_page(changed):
    space, newcomer = changed["space"], changed["newcomer"]
    answer_what_ivy_answered(logged_in(newcomer))
    pages = crawl(newcomer, space, member_of_old=False)
    forbidden = [*words_of(HANK), *words_of(IVY), HANK["live"], IVY["live"], SPACE_NAME]
    if newcomer.email != HANK["email"]:
        forbidden += [HANK["name"], HANK["email"]]
    assert leaks(pages, forbidden) == []
    # The crawl reached the pages that would show them.
    assert f"GET {reverse('our_story')}?prompt={STORY_PROMPT} {{}}" in pages
    assert "Jane-side-of-meeting" in pages[f"GET {reverse('our_story')}?prompt={STORY_PROMPT} {{}}"]


def test_who_stayed_sees_a_fresh_space_too_and_keeps_her_words_in_her_export(changed):
    space = changed["space"]
    pages = crawl(space.ivy, space, member_of_old=False)
    export = pop_download(pages)
    assert leaks(pages, [*words_of(HANK), *words_of(IVY), HANK["live"], SPACE_NAME]) == []
    for word in ("note", "shared", "private", "sealed", "daily", "weekly"):
        assert IVY[word] in export
    # Her notes name the ritual they were kept for, his included; nothing he wrote.
    assert leaks({"export": export}, [HANK[w] for w in PERSONAL]) == []


@pytest.mark.parametrize("name", [n for n, (_, live, _) in ENDINGS.items() if live])
def test_the_old_live_session_ended_and_takes_no_more_answers(db, name):
    space = change(name)["space"]
    live = Session.objects.get(pk=space.live.pk)
    assert live.status == Session.Status.ENDED
    with pytest.raises(engine.ActionError):
        engine.act(live.pk, space.couple.pk, 1, "submit", {"text": "late"})


def test_no_email_of_the_old_space_reaches_anyone_after(changed):
    space, newcomer = changed["space"], changed["newcomer"]
    # The new pair adds a ritual of their own, so a reminder really goes out.
    added = logged_in(space.ivy).post(reverse("ritual_add_template", args=["daily-check-in"]))
    assert added.status_code == 302
    ritual = Ritual.objects.get(couple=changed["new_couple"])
    now = timezone.now()
    mail.outbox.clear()
    # The tick runs when each reminder is due: the old rituals' as planned
    # before the change, and the new one's.
    for due in sorted([*space.reminders_due, ritual.next_reminder_at]):
        with time_machine.travel(due + timedelta(seconds=1), tick=False):
            result = dispatch.dispatch_due_reminders()
            for delivery_id in result.queued:
                dispatch.send_delivery(delivery_id)
    assert not ReminderDelivery.objects.filter(
        ritual__couple=space.couple, created_at__gt=now
    ).exists()
    assert {newcomer.email, space.ivy.email} <= {to for m in mail.outbox for to in m.to}
    sent = "\n".join(
        f"{m.to} {m.subject} {m.body} {''.join(str(a[0]) for a in m.alternatives)}"
        for m in mail.outbox
    )
    assert leaks({"mail": sent}, [*words_of(HANK), *words_of(IVY), SPACE_NAME]) == []


def test_before_anyone_new_joins_who_stayed_sees_what_the_readme_promises(changed):
    """Leaving: the leaver's shared words stay, their sealed and private ones don't.
    Deleting: nothing the deleted partner wrote remains, only the space's rituals.
    Both leaving: the space is closed to both."""
    ivy_alone = changed["ivy_alone"]

    def found(word: str) -> bool:
        return any(word in page for page in ivy_alone.values())

    if changed["name"] == "both-leave":
        export = pop_download(ivy_alone)
        assert IVY["shared"] in export
        assert leaks({"export": export}, [HANK[w] for w in PERSONAL]) == []
        assert leaks(ivy_alone, [*words_of(HANK), *words_of(IVY), SPACE_NAME]) == []
        return
    deleted = "delete" in changed["name"]
    # Her own words are all there (the private one on her appreciation page).
    for word in ("ritual", "note", "shared", "temperature", "private", "sealed", "daily", "weekly"):
        assert found(IVY[word]), word
    # A partner's private or unmatched sealed words never; a sealed answer she had
    # matched (the daily question, the weekly check-in) closes once he is gone.
    for word in ("private", "sealed", "daily", "weekly", "live"):
        assert not found(HANK[word]), word
    # His shared words stay after leaving and go with a deleted account.
    for word in ("note", "shared", "temperature"):
        assert found(HANK[word]) is not deleted, word
    # The space's rituals stay either way, his included.
    assert found(HANK["ritual"])
