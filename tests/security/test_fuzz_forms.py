"""Every form of the app, fed random input: never a 500, never half-saved rows.

Values are drawn per field type from the form itself (so a new field is fuzzed
without a change here), then a few fields are swapped for hostile text
(NUL bytes, control characters, very long strings, odd numbers and dates) or
dropped, and unknown fields are added. Each example runs in a transaction that
is rolled back, so all start from the same space; a refused request (4xx) must
leave every row as it was.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date, datetime
from urllib.parse import quote, urlsplit

import pytest
from django import forms
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from accounts.forms import DeleteAccountForm, ProfileForm, SignupForm
from couples.forms import CodeForm, InviteForm, LeaveForm, SpaceForm
from exercises import engine, journal
from exercises.engine import REGISTRY
from exercises.forms import DailyAnswerForm
from exercises.models import Entry, Session
from rituals import calendar, links
from rituals.forms import KeepForm, RitualForm
from rituals.models import Ritual
from tests.conftest import logged_in
from tests.factories import PASSWORD, UserFactory
from tests.security.conftest import assert_unchanged, past_occurrence, snapshot

FUZZ = fuzz_settings(
    # TEND_FUZZ_EXAMPLES=500 digs deeper locally; the suite keeps to 40.
    max_examples=int(os.environ.get("TEND_FUZZ_EXAMPLES", "40")),
    report_multiple_bugs=False,
    # No shrinking: a failure is reported at once; what it found is pinned below, short.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HTMX = {"HTTP_HX_REQUEST": "true"}

SPECIAL = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n\t\x0b\x0c",
    "\u202e\u200b\ufeff",
    "🙂" * 50,
    "x" * 20_000,
    "é" * 5000,
    "0",
    "-1",
    "1e309",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "9" * 40,
    "-" + "9" * 40,
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31 23:59:59+14:00",
    "0001-01-01 00:00:00-12:00",
    "2026-02-30",
    "24:00",
    "23:59:60",
    "../../etc/passwd",
    "%00",
    "' OR '1'='1",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "on",
    "false",
    "None",
    "[]",
    "{}",
]
hostile = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=10),
    st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(0, 12_000)),
    st.integers(-(10**30), 10**30).map(str),
    st.dates().map(date.isoformat),
    st.datetimes().map(datetime.isoformat),
)


# Where dates and times overflow: the ends of the calendar, in zones far from UTC.
EDGE_DATES = ["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", "1970-01-01", "2038-01-19"]
EDGE_TIMES = ["00:00", "00:30", "23:30", "23:59", "02:30"]
EDGE_DATETIMES = [
    f"{day}T{clock}{offset}"
    for day in ("0001-01-01", "9999-12-31")
    for clock in ("00:00:00", "23:59:59")
    for offset in ("", "+14:00", "-12:00")
]
EDGE_ZONES = ["Pacific/Kiritimati", "Etc/GMT+12", "Asia/Tokyo", "America/Los_Angeles", "UTC"]
EDGE_INTS = ["0", "-1", "32767", "32768", "2147483648", "9223372036854775808", "1" + "0" * 30]


def values_for(field: forms.Field) -> st.SearchStrategy:
    """Plausible values of a field's type, across its whole range and at its edges."""
    if isinstance(field, forms.MultipleChoiceField):
        choice = st.sampled_from([str(key) for key, _ in field.choices])
        return st.lists(st.one_of(choice, hostile), max_size=8)
    if isinstance(field, forms.ChoiceField):
        keys = [str(key) for key, _ in field.choices]
        if "Europe/Berlin" in keys:  # a time zone: the far ones half of the time
            return st.one_of(st.sampled_from(EDGE_ZONES), st.sampled_from(keys))
        return st.sampled_from(keys)
    if isinstance(field, forms.BooleanField):
        return st.sampled_from(["on", "", "false", "0", "1"])
    if isinstance(field, forms.DateTimeField):
        return st.one_of(st.sampled_from(EDGE_DATETIMES), st.datetimes().map(datetime.isoformat))
    if isinstance(field, forms.DateField):
        return st.one_of(st.sampled_from(EDGE_DATES), st.dates().map(date.isoformat))
    if isinstance(field, forms.TimeField):
        times = st.times().map(lambda t: t.isoformat(timespec="minutes"))
        return st.one_of(st.sampled_from(EDGE_TIMES), times)
    if isinstance(field, forms.DecimalField):
        return st.decimals(allow_nan=True, allow_infinity=True).map(str)
    if isinstance(field, forms.IntegerField):
        return st.one_of(st.sampled_from(EDGE_INTS), st.integers(-1000, 100_000).map(str))
    if isinstance(field, forms.EmailField):
        return st.emails().map(str)
    return st.text(max_size=getattr(field, "max_length", None) or 200)


def form_data(
    form: forms.Form, fixed: dict | None = None, prefix: str = ""
) -> st.SearchStrategy[dict]:
    """Mostly well-typed values for every field, then a few broken, dropped or added."""
    names = [prefix + name for name in form.fields]
    valid = st.fixed_dictionaries(
        {prefix + name: values_for(field) for name, field in form.fields.items()}
    )
    broken = st.dictionaries(st.sampled_from(names), st.one_of(hostile, st.none()), max_size=3)
    extra = st.dictionaries(st.text(min_size=1, max_size=12), hostile, max_size=2)

    def combine(parts) -> dict:
        good, bad, more = parts
        data = {**more, **good, **(fixed or {}), **bad}
        return {key: value for key, value in data.items() if value is not None}

    return st.tuples(valid, broken, extra).map(combine)


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def attempt(client: Client, method: str, url: str, data=None, *, keep=False, tables=None, **extra):
    """One request that must not fail, and must change nothing if it is refused.

    Rolled back afterwards, unless ``keep`` (a series of steps building on each other);
    ``tables`` narrows the check to the tables the request could touch.
    """
    with transaction.atomic():
        before = snapshot(tables=tables)
        response = getattr(client, method)(url, data or {}, **extra)
        what = f"{method.upper()} {url} ({response.status_code})"
        assert response.status_code < 500, what
        if response.status_code >= 400:
            assert_unchanged(before, snapshot(tables=tables), what)
        transaction.set_rollback(not keep)
        return response


def read(client: Client, url: str, data=None):
    response = client.get(url, data or {})
    assert response.status_code < 500, f"GET {url}: {response.status_code}"
    return response


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    unlimited = {"account": (10**6, 60), "address": (10**6, 60)}
    settings.TEND_RATE_LIMITS = {"invite_send": unlimited, "invite_code": unlimited}
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def clients(alice, bob, charlie, pair_space) -> dict:
    dave = UserFactory(email="dave@example.com", display_name="Dave")
    return {
        "alice": logged_in(alice),
        "bob": logged_in(bob),
        "charlie": logged_in(charlie),
        "dave": logged_in(dave),
        "anonymous": Client(),
        "space": pair_space,
        "alice_user": alice,
    }


# ---------- accounts and pairing ----------


@FUZZ
@given(data=form_data(ProfileForm()), htmx=st.booleans())
def test_the_profile_form(clients, data, htmx):
    attempt(clients["alice"], "post", reverse("profile"), data, **(HTMX if htmx else {}))


@FUZZ
@given(data=form_data(SignupForm()))
def test_the_signup_form(clients, data):
    attempt(Client(), "post", reverse("account_signup"), data)


@FUZZ
@given(data=form_data(InviteForm()), htmx=st.booleans())
def test_the_invite_form(clients, data, htmx):
    # charlie is alone in his space: his form is the one that gets read
    attempt(clients["charlie"], "post", reverse("invite"), data, **(HTMX if htmx else {}))


@FUZZ
@given(
    data=form_data(CodeForm()),
    real=st.booleans(),
    htmx=st.booleans(),
)
def test_the_join_code_form(clients, data, real, htmx):
    if real:
        data["code"] = clients["space"]["code"]
    attempt(clients["dave"], "post", reverse("join"), data, **(HTMX if htmx else {}))


@FUZZ
@given(data=form_data(LeaveForm()))
def test_the_leave_form(clients, data):
    attempt(clients["alice"], "post", reverse("leave"), data)


@FUZZ
@given(data=form_data(DeleteAccountForm(user=None)), real=st.booleans())
def test_the_delete_account_form(clients, data, real):
    if real:
        data["password"] = PASSWORD
    # deleting logs out: a fresh session each time
    attempt(logged_in(clients["alice_user"]), "post", reverse("delete_account"), data)


@FUZZ
@given(data=form_data(SpaceForm()), who=st.sampled_from(["dave", "alice"]))
def test_the_space_name_form(clients, data, who):
    attempt(clients[who], "post", reverse("create_space"), data)


# ---------- rituals ----------


def ritual_form() -> RitualForm:
    return RitualForm(instance=Ritual(), user=None)


RITUAL = {
    "title": "Tea",
    "frequency": "daily",
    "interval": "1",
    "nth": "1",
    "nth_weekday": "FR",
    "start_time": "00:30",
    "duration_minutes": "20",
    "start_date": "2026-12-01",
    "time_zone": "Europe/Berlin",
    "reminder_lead_minutes": "15",
}


@FUZZ
@given(data=form_data(ritual_form()), edit=st.booleans())
def test_the_ritual_form_and_its_preview(clients, data, edit):
    client, ritual = clients["alice"], clients["space"]["ritual"]
    url = reverse("ritual_edit", args=[ritual.pk]) if edit else reverse("ritual_new")
    count = Ritual.objects.count()
    response = attempt(client, "post", url, data)
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert Ritual.objects.count() == count
    preview = attempt(client, "get", reverse("ritual_preview"), data, **HTMX)
    assert preview.status_code == 200


NEXT = ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]


@FUZZ
@given(
    data=form_data(KeepForm()),
    real=st.booleans(),
    next_url=st.one_of(st.sampled_from(NEXT), hostile),
    action=st.sampled_from(["ritual_keep", "ritual_unkeep"]),
    htmx=st.booleans(),
)
def test_keeping_and_unkeeping(clients, data, real, next_url, action, htmx):
    ritual = clients["space"]["ritual"]
    if real:
        data["occurrence"] = past_occurrence(ritual).isoformat()
    data["next"] = next_url
    url = reverse(action, args=[ritual.pk])
    response = attempt(clients["bob"], "post", url, data, **(HTMX if htmx else {}))
    if response.status_code == 302:
        # wherever "next" pointed, the redirect stays on this site
        target = urlsplit(response.url.replace("\\", "/"))
        assert not target.scheme and not target.netloc, response.url


EDGE_STAMPS = [
    str(int(datetime.fromisoformat(f"{d}T00:00:00+00:00").timestamp())) for d in EDGE_DATES
]


@FUZZ
@given(
    start=st.one_of(st.sampled_from(EDGE_DATES), st.dates().map(date.isoformat), hostile),
    before=st.one_of(
        st.sampled_from(EDGE_STAMPS), st.integers(-(10**20), 10**20).map(str), hostile
    ),
)
def test_the_week_and_history_pages_take_any_date(clients, start, before):
    client, ritual = clients["alice"], clients["space"]["ritual"]
    attempt(client, "get", reverse("ritual_week"), {"start": start})
    attempt(client, "get", reverse("ritual_detail", args=[ritual.pk]), {"before": before})


# ---------- exercises ----------


def start_fields(kind: str) -> st.SearchStrategy[dict]:
    from exercises.forms import StartForm

    return form_data(StartForm(flow=REGISTRY[kind], prefix=kind), prefix=f"{kind}-")


@FUZZ
@given(
    kind=st.one_of(st.sampled_from(sorted(REGISTRY)), st.text(max_size=20)),
    data=st.data(),
)
def test_starting_every_kind_of_exercise(clients, kind, data):
    fields = (
        data.draw(start_fields(kind)) if kind in REGISTRY else data.draw(form_data(SpaceForm()))
    )
    with rolled_back():
        Session.objects.update(status=Session.Status.ENDED)
        try:
            url = reverse("exercise_start", args=[kind])
        except Exception:
            return  # not a slug: no such address
        attempt(clients["alice"], "post", url, fields)


LIVE = [Session, Entry]


def start_at(clients, kind: str, mode: str, step: int) -> Session:
    """A fresh session of ``kind``, moved straight to one of its steps."""
    Session.objects.update(status=Session.Status.ENDED)
    space = clients["space"]
    session = engine.start(space["couple"], clients["alice_user"], 1, kind, mode, {})
    steps = REGISTRY[kind].steps(session)
    session.step = min(step, len(steps) - 1)
    engine._reset_step(session, steps[session.step])
    session.save()
    return session


ACTIONS = [
    "next",
    "ready",
    "pause",
    "resume",
    "start_timer",
    "turn_done",
    "submit",
    "rate",
    "skip",
    "again",
    "end",
]
act_data = st.fixed_dictionaries(
    {},
    optional={
        "action": st.one_of(st.sampled_from(ACTIONS), hostile),
        "text": st.one_of(st.text(max_size=50), hostile),
        "note": st.one_of(st.text(max_size=50), hostile),
        "visibility": st.one_of(st.sampled_from(["shared", "private", "sealed"]), hostile),
        "as_seat": st.one_of(st.sampled_from(["1", "2"]), hostile),
        "rating": st.one_of(st.sampled_from(sorted(engine.RATINGS)), hostile),
        "story": st.one_of(st.text(max_size=50), hostile),
        "unknown": hostile,
    },
)


@FUZZ
@given(
    kind=st.sampled_from(sorted(REGISTRY)),
    one_screen=st.booleans(),
    step=st.integers(0, 80),
    acts=st.lists(
        st.tuples(st.sampled_from(["alice", "bob"]), act_data, st.booleans()), max_size=8
    ),
)
def test_acting_in_every_kind_of_exercise(clients, kind, one_screen, step, acts):
    flow = REGISTRY[kind]
    mode = "one_screen" if one_screen and flow.one_screen else "two_devices"
    with rolled_back():
        session = start_at(clients, kind, mode, step)
        url = reverse("exercise_act", args=[session.pk])
        for who, data, htmx in acts:
            htmx_header = HTMX if htmx else {}
            attempt(clients[who], "post", url, data, keep=True, tables=LIVE, **htmx_header)
        for who in ("alice", "bob"):
            assert (
                read(clients[who], reverse("exercise_session", args=[session.pk])).status_code
                == 200
            )
            read(clients[who], reverse("exercise_summary", args=[session.pk]))
            read(clients[who], reverse("exercise_poll", args=[session.pk]), {"v": "x"})


@FUZZ
@given(data=form_data(DailyAnswerForm()), htmx=st.booleans())
def test_the_daily_question(clients, data, htmx):
    attempt(clients["bob"], "post", reverse("daily_question"), data, **(HTMX if htmx else {}))


@FUZZ
@given(data=form_data(journal.AppreciationForm(partner_name="Bob")), htmx=st.booleans())
def test_the_appreciation_journal(clients, data, htmx):
    attempt(clients["alice"], "post", reverse("appreciation"), data, **(HTMX if htmx else {}))


@FUZZ
@given(data=form_data(journal.LoveQuizForm()), htmx=st.booleans())
def test_the_love_quiz(clients, data, htmx):
    attempt(clients["alice"], "post", reverse("love_quiz"), data, **(HTMX if htmx else {}))


@FUZZ
@given(data=form_data(journal.SelfCheckForm()), htmx=st.booleans())
def test_the_self_check(clients, data, htmx):
    attempt(clients["alice"], "post", reverse("self_check"), data, **(HTMX if htmx else {}))


@FUZZ
@given(
    data=form_data(journal.StoryForm(partner_name="Bob")),
    prompt=st.one_of(st.sampled_from(sorted(journal.prompts())), hostile),
    htmx=st.booleans(),
)
def test_our_story(clients, data, prompt, htmx):
    url = reverse("our_story") + "?prompt=" + quote(prompt)
    attempt(clients["bob"], "get", url)
    attempt(clients["bob"], "post", url, data, **(HTMX if htmx else {}))


@FUZZ
@given(version=hostile, signature=hostile)
def test_the_polls_take_any_query(clients, version, signature):
    session = clients["space"]["session"]
    attempt(clients["bob"], "get", reverse("exercise_poll", args=[session.pk]), {"v": version})
    attempt(clients["bob"], "get", reverse("exercise_waiting"), {"sig": signature})


# ---------- signed links ----------

SIGNED = ["ritual_done_link", "ritual_mute_link", "unsubscribe", "calendar_feed", "invitation"]


def tamper(token: str) -> st.SearchStrategy[str]:
    """A real token cut, extended or with one character changed."""
    return st.one_of(
        st.integers(0, len(token)).map(lambda n: token[:n]),
        hostile.map(lambda more: token + more),
        st.tuples(st.integers(0, len(token) - 1), st.characters()).map(
            lambda p: token[: p[0]] + p[1] + token[p[0] + 1 :]
        ),
    )


@FUZZ
@given(
    name=st.sampled_from(SIGNED),
    data=st.data(),
    method=st.sampled_from(["get", "post"]),
    note=hostile,
)
def test_signed_links_with_random_tokens(clients, name, data, method, note):
    space = clients["space"]
    real = {
        "ritual_done_link": space["signed"]["done"],
        "ritual_mute_link": space["signed"]["mute"],
        "unsubscribe": space["signed"]["unsubscribe"],
        "calendar_feed": space["signed"]["feed"],
        "invitation": space["token"],
    }[name]
    token = data.draw(st.one_of(hostile, tamper(real)))
    if not token or token == real:
        return
    url = reverse(name, args=["TOKEN"]).replace("TOKEN", quote(token, safe=""))
    response = attempt(clients["anonymous"], method, url, {"note": note, "together": "on"})
    assert response.status_code in (400, 404, 405, 410), (name, token, response.status_code)


@FUZZ
@given(note=hostile, together=hostile, extra=hostile)
def test_the_done_link_form_takes_any_note(clients, note, together, extra):
    """The one form of a signed link that writes user text."""
    space = clients["space"]
    url = reverse("ritual_done_link", args=[links.done_token(space["delivery"].pk)])
    attempt(clients["anonymous"], "post", url, {"note": note, "together": together, "x": extra})


def test_the_feed_token_of_a_space_opens_only_that_space(clients):
    space = clients["space"]
    assert calendar.couple_for_token(space["signed"]["feed"]) == space["couple"]
    assert calendar.couple_for_token(space["signed"]["done"]) is None


# ---------- what the fuzzing found, pinned as short cases ----------


def step_index(kind: str, step_kind: str, clients) -> int:
    session = Session(kind=kind, state={"first_seat": 1}, settings={})
    REGISTRY[kind].setup(session, {})
    return next(i for i, s in enumerate(REGISTRY[kind].steps(session)) if s.kind == step_kind)


NUL = "before\x00after"


@pytest.mark.parametrize(
    ("kind", "step_kind", "data"),
    [
        ("eye_gazing", "write", {"action": "submit", "text": NUL}),
        ("temperature", "turns", {"action": "turn_done", "note": NUL}),
    ],
    ids=["written-answer", "turn-note"],
)
def test_an_exercise_answer_with_a_nul_byte(clients, kind, step_kind, data):
    """PostgreSQL text can't hold NUL: what the engine saves unchecked must be cleaned."""
    with rolled_back():
        session = start_at(clients, kind, "two_devices", step_index(kind, step_kind, clients))
        attempt(clients["alice"], "post", reverse("exercise_act", args=[session.pk]), data)


def test_the_done_link_note_with_a_nul_byte(clients):
    url = reverse("ritual_done_link", args=[links.done_token(clients["space"]["delivery"].pk)])
    attempt(clients["anonymous"], "post", url, {"note": NUL})


def pinned_cases(space) -> dict[str, tuple[str, str, str, dict]]:
    ritual = space["ritual"].pk
    keep, unkeep = reverse("ritual_keep", args=[ritual]), reverse("ritual_unkeep", args=[ritual])
    real = past_occurrence(space["ritual"]).isoformat()
    year_one = "0001-01-01T00:00:00"
    return {
        "keep-year-1": ("alice", "post", keep, {"occurrence": year_one}),
        "unkeep-year-1": ("alice", "post", unkeep, {"occurrence": year_one}),
        "unkeep-year-9999": ("alice", "post", unkeep, {"occurrence": "9999-12-31T23:59:00"}),
        "unkeep-next-0": ("bob", "post", unkeep, {"occurrence": real, "next": "0"}),
        "keep-next-colon": ("bob", "post", keep, {"occurrence": real, "next": ":"}),
        "week-year-1": ("alice", "get", reverse("ritual_week"), {"start": "0001-01-01"}),
        "week-year-9999": ("alice", "get", reverse("ritual_week"), {"start": "9999-12-31"}),
        "history-year-1": (
            "alice",
            "get",
            reverse("ritual_detail", args=[ritual]),
            {"before": "-62135596800"},
        ),
        "new-year-1-tokyo": (
            "alice",
            "post",
            reverse("ritual_new"),
            {**RITUAL, "start_date": "0001-01-01", "time_zone": "Asia/Tokyo"},
        ),
        "new-year-9999-los-angeles": (
            "alice",
            "post",
            reverse("ritual_new"),
            {
                **RITUAL,
                "start_date": "9999-12-31",
                "start_time": "23:30",
                "time_zone": "America/Los_Angeles",
            },
        ),
        "preview-year-1-tokyo": (
            "alice",
            "get",
            reverse("ritual_preview"),
            {**RITUAL, "start_date": "0001-01-01", "time_zone": "Asia/Tokyo"},
        ),
    }


PINNED = [
    "keep-year-1",
    "unkeep-year-1",
    "unkeep-year-9999",
    "unkeep-next-0",
    "keep-next-colon",
    "week-year-1",
    "week-year-9999",
    "history-year-1",
    "new-year-1-tokyo",
    "new-year-9999-los-angeles",
    "preview-year-1-tokyo",
]


@pytest.mark.parametrize("case", PINNED)
def test_what_the_fuzzing_found(clients, case):
    who, method, url, data = pinned_cases(clients["space"])[case]
    response = attempt(clients[who], method, url, data)
    assert response.status_code in (200, 302, 404, 422), response.status_code
