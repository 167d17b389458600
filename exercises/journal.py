"""The exercises done alone, at your own pace: appreciations, how I feel loved,
the connection self-check and our story.

Each is a page of the couple's space. What a partner wrote is read only
through ``Entry.objects.visible_to``, and only from the two current members:
a former partner's words never surface here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User
from couples.access import couple_required
from couples.models import Couple
from exercises.content import guide, load
from exercises.engine import REGISTRY
from exercises.models import Entry, EntryQuerySet, Visibility
from rituals import catalog

# ---------- Shared helpers ----------


def partner_of(request: HttpRequest) -> User | None:
    """The other current member of the requester's space, or None when solo
    (read with the viewer: ``couples.viewer``)."""
    return request.partner


def readable_entries(request: HttpRequest, partner: User | None) -> EntryQuerySet:
    """Entries outside live sessions that the requester may read, from the two of them."""
    authors = [request.user.pk] + ([partner.pk] if partner else [])
    return (
        Entry.objects.filter(couple=request.couple, session=None, author__in=authors)
        .visible_to(request.user)
        .select_related("author")
    )


def local_today(user: User) -> date:
    return timezone.localdate(timezone.now(), user.zone)


def _rerender(
    request: HttpRequest, template: str, partial: str, ctx: dict, status: int
) -> HttpResponse:
    if request.htmx:
        return render(request, f"{template}#{partial}", ctx, status=status)
    return render(request, template, ctx, status=status)


def _done(request: HttpRequest, url: str, anchor: str = "") -> HttpResponse:
    if request.htmx:
        # No fragment: from a page with the same address, the browser would
        # only scroll to it instead of loading the page again.
        return HttpResponseClientRedirect(url)
    return redirect(url + anchor)


# ---------- Appreciation ----------

APPRECIATION = "appreciation:"
SLOTS = (1, 2, 3)
JOURNAL_DAYS = 30
WEEK_DAYS = 7
SLOT_LABELS = {1: "First thing", 2: "Second thing", 3: "Third thing"}


def appreciation_key(day: date, slot: int) -> str:
    return f"{APPRECIATION}{day.isoformat()}:{slot}"


def appreciation_day(entry: Entry) -> date | None:
    try:
        return date.fromisoformat(entry.prompt_key.split(":")[1])
    except (IndexError, ValueError):
        return None


class AppreciationForm(forms.Form):
    """Three things, each with who may read it; the first one is enough."""

    def __init__(self, *args, partner_name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        who = [
            (Visibility.SHARED, f"Shared with {partner_name}"),
            (Visibility.PRIVATE, "My private journal"),
        ]
        for slot in SLOTS:
            self.fields[f"text_{slot}"] = forms.CharField(
                label=SLOT_LABELS[slot],
                required=slot == 1,
                max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
                error_messages={
                    "required": "Write at least one thing you appreciated today.",
                    "max_length": "Keep it to 1,000 characters or fewer.",
                },
            )
            self.fields[f"who_{slot}"] = forms.ChoiceField(
                label="Who sees it",
                choices=who,
                initial=Visibility.SHARED,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose who sees it."},
            )

    def slots(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"text_{slot}"], self[f"who_{slot}"]) for slot in SLOTS]

    def items(self) -> list[tuple[int, str, str]]:
        data = self.cleaned_data
        return [(slot, data[f"text_{slot}"].strip(), data[f"who_{slot}"]) for slot in SLOTS]


def save_appreciations(
    couple: Couple, user: User, day: date, items: list[tuple[int, str, str]]
) -> None:
    """Write the day's three at once: a cleared field removes that one."""
    with transaction.atomic():
        for slot, text, visibility in items:
            key = appreciation_key(day, slot)
            if not text:
                Entry.objects.filter(
                    couple=couple, session=None, author=user, prompt_key=key
                ).delete()
                continue
            Entry.objects.update_or_create(
                couple=couple,
                session=None,
                author=user,
                prompt_key=key,
                defaults={"text": text, "visibility": visibility},
            )


@dataclass
class AppreciationDay:
    day: date
    mine: list[Entry] = field(default_factory=list)
    theirs: list[Entry] = field(default_factory=list)


@dataclass
class WeekRow:
    day: date
    given: int
    received: int


def appreciation_overview(request: HttpRequest, partner: User | None, today: date) -> dict:
    """Today's, the journal of the last 30 days and the week, from one query.

    Dates are each author's own: a partner a few hours ahead may already
    have written "tomorrow"; that counts as today here. One's own stay on
    their date (only a change of time zone puts any after today), so the
    form edits exactly today's three.
    """
    first = today - timedelta(days=JOURNAL_DAYS - 1)
    entries = readable_entries(request, partner).filter(
        prompt_key__gte=f"{APPRECIATION}{first.isoformat()}",
        prompt_key__lt=f"{APPRECIATION}{(today + timedelta(days=2)).isoformat()}",
    )
    days: dict[date, AppreciationDay] = {}
    for entry in entries.order_by("prompt_key"):
        day = appreciation_day(entry)
        if day is None:
            continue
        mine = entry.author_id == request.user.pk
        day = day if mine else min(day, today)
        bucket = days.setdefault(day, AppreciationDay(day))
        (bucket.mine if mine else bucket.theirs).append(entry)
    todays = days.get(today, AppreciationDay(today))
    week = []
    for offset in range(WEEK_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        found = days.get(day, AppreciationDay(day))
        week.append(WeekRow(day, given=len(found.mine), received=len(found.theirs)))
    return {
        "todays_mine": {int(e.prompt_key.rsplit(":", 1)[1]): e for e in todays.mine},
        "todays_theirs": todays.theirs,
        "journal": [days[d] for d in sorted(days, reverse=True) if d != today],
        "week": week,
        "week_given": sum(row.given for row in week),
        "week_received": sum(row.received for row in week),
    }


def initial_from(todays_mine: dict[int, Entry]) -> dict:
    initial = {}
    for slot, entry in todays_mine.items():
        initial[f"text_{slot}"] = entry.text
        initial[f"who_{slot}"] = entry.visibility
    return initial


@couple_required
@require_http_methods(["GET", "POST"])
def appreciation(request: HttpRequest) -> HttpResponse:
    partner = partner_of(request)
    partner_name = partner.get_short_name() if partner else "your partner"
    today = local_today(request.user)
    if request.method == "POST":
        form = AppreciationForm(request.POST, partner_name=partner_name)
        if form.is_valid():
            save_appreciations(request.couple, request.user, today, form.items())
            messages.success(request, "Saved. Thank you for noticing.")
            return _done(request, reverse("appreciation"))
    overview = appreciation_overview(request, partner, today)
    if request.method != "POST":
        form = AppreciationForm(
            initial=initial_from(overview["todays_mine"]), partner_name=partner_name
        )
    ctx = {
        **overview,
        "form": form,
        "today": today,
        "partner": partner,
        "partner_name": partner_name,
        "guide": guide("appreciation"),
    }
    status = 422 if form.is_bound else 200
    return _rerender(request, "exercises/journal/appreciation.html", "today", ctx, status)


# ---------- How I feel loved ----------

QUIZ_RESULT = "love_quiz:result"
QUIZ_ANSWERS = "love_quiz:answers"
# A second way joins the first when it trails by at most this many choices.
CLOSE_SECOND = 2


def quiz() -> dict:
    return load("love_quiz")


class LoveQuizForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        items = quiz()["item"]
        for number, item in enumerate(items, start=1):
            self.fields[item["key"]] = forms.ChoiceField(
                label=f"{number} of {len(items)}: which would mean more to you?",
                choices=[("a", item["a"]["text"]), ("b", item["b"]["text"])],
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose the one that would mean more to you.",
                    "invalid_choice": "Choose one of the two.",
                },
            )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            missing = len(self.errors)
            raise forms.ValidationError(
                f"{missing} of the pairs still need a choice."
                if missing > 1
                else "One pair still needs a choice."
            )
        return data


def quiz_result(answers: dict[str, str]) -> dict:
    """Counts per way and the top one or two, in the content's order on ties."""
    ways = list(quiz()["ways"])
    counts = dict.fromkeys(ways, 0)
    for item in quiz()["item"]:
        side = answers.get(item["key"])
        if side in ("a", "b"):
            counts[item[side]["way"]] += 1
    ranked = sorted(ways, key=lambda way: -counts[way])
    top = ranked[:1]
    if len(ranked) > 1 and counts[ranked[1]] >= counts[ranked[0]] - CLOSE_SECOND:
        top.append(ranked[1])
    return {"counts": counts, "top": top}


def save_quiz(couple: Couple, user: User, answers: dict[str, str]) -> None:
    """The result is shared with the partner; the choices behind it stay the author's."""
    with transaction.atomic():
        Entry.objects.update_or_create(
            couple=couple,
            session=None,
            author=user,
            prompt_key=QUIZ_ANSWERS,
            defaults={"visibility": Visibility.PRIVATE, "data": {"answers": answers}},
        )
        Entry.objects.update_or_create(
            couple=couple,
            session=None,
            author=user,
            prompt_key=QUIZ_RESULT,
            defaults={"visibility": Visibility.SHARED, "data": quiz_result(answers)},
        )


@dataclass
class WayCount:
    key: str
    name: str
    description: str
    count: int
    out_of: int


@dataclass
class QuizResult:
    name: str
    ways: list[WayCount]
    top: list[dict]

    @property
    def top_names(self) -> str:
        names = [way["name"].lower() for way in self.top]
        return " and ".join(names)

    @property
    def ideas(self) -> list[str]:
        return [idea for way in self.top for idea in way["ideas"]]


def read_result(entry: Entry | None, name: str) -> QuizResult | None:
    if entry is None:
        return None
    ways = quiz()["ways"]
    out_of = dict.fromkeys(ways, 0)
    for item in quiz()["item"]:
        out_of[item["a"]["way"]] += 1
        out_of[item["b"]["way"]] += 1
    counts = entry.data.get("counts", {})
    return QuizResult(
        name=name,
        ways=[
            WayCount(key, way["name"], way["description"], int(counts.get(key, 0)), out_of[key])
            for key, way in ways.items()
        ],
        top=[ways[key] for key in entry.data.get("top", []) if key in ways],
    )


@couple_required
@require_http_methods(["GET", "POST"])
def love_quiz(request: HttpRequest) -> HttpResponse:
    partner = partner_of(request)
    if request.method == "POST":
        form = LoveQuizForm(request.POST)
        if form.is_valid():
            save_quiz(request.couple, request.user, form.cleaned_data)
            messages.success(request, "Your result is saved, and shared with your partner.")
            return _done(request, reverse("love_quiz"), "#results")
    entries = {
        (entry.prompt_key, entry.author_id == request.user.pk): entry
        for entry in readable_entries(request, partner).filter(
            prompt_key__in=[QUIZ_RESULT, QUIZ_ANSWERS]
        )
    }
    # Only ever one's own choices: visible_to keeps the partner's private,
    # and the key says whose they are.
    my_answers = entries.get((QUIZ_ANSWERS, True))
    if request.method != "POST":
        form = LoveQuizForm(initial=my_answers.data.get("answers", {}) if my_answers else None)
    partner_name = partner.get_short_name() if partner else "your partner"
    ctx = {
        "form": form,
        "intro": quiz().get("intro", ""),
        "mine": read_result(entries.get((QUIZ_RESULT, True)), "You"),
        "theirs": read_result(entries.get((QUIZ_RESULT, False)), partner_name),
        "partner": partner,
        "partner_name": partner_name,
    }
    status = 422 if form.is_bound else 200
    return _rerender(request, "exercises/journal/love_quiz.html", "quiz-form", ctx, status)


# ---------- Connection self-check ----------

SELF_CHECK = "self_check:"
HORIZONS = [
    ("tonight", "Tonight"),
    ("tomorrow", "Tomorrow"),
    ("this-week", "This week"),
    ("this-month", "This month"),
]
WEIGHT = {"never": 0, "sometimes": 1, "often": 2}
# Exercises with a page of their own; the others open on the exercises page.
EXERCISE_PAGES = {
    "daily_question": ("daily_question", "Today's question"),
    "appreciation": ("appreciation", "Three appreciations"),
    "love_quiz": ("love_quiz", "How I feel loved"),
    "our_story": ("our_story", "Our story"),
}


def self_check() -> dict:
    return load("self_check")


class SelfCheckForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        scale = list(self_check()["scale"].items())
        for statement in self_check()["statement"]:
            self.fields[statement["key"]] = forms.ChoiceField(
                label=statement["text"],
                choices=scale,
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose how often this has been true for you.",
                    "invalid_choice": "Choose one of the three.",
                },
            )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            raise forms.ValidationError("Answer each statement; there are no wrong answers.")
        return data


@dataclass
class PlanStep:
    horizon: str
    text: str
    ritual_key: str = ""
    ritual_title: str = ""
    exercise_url: str = ""
    exercise_title: str = ""


def exercise_link(kind: str) -> tuple[str, str]:
    if kind in EXERCISE_PAGES:
        name, title = EXERCISE_PAGES[kind]
        return reverse(name), title
    flow = REGISTRY.get(kind)
    title = flow.title if flow else kind.replace("_", " ").capitalize()
    return f"{reverse('exercises')}#exercise-{kind}", title


def plan_step(horizon: str, step: dict) -> PlanStep:
    planned = PlanStep(horizon=horizon, text=step["text"])
    kind, _, key = step.get("link", "").partition(":")
    if kind == "ritual" and (template := catalog.get(key)) is not None:
        planned.ritual_key, planned.ritual_title = key, template.title
    elif kind == "exercise" and key:
        planned.exercise_url, planned.exercise_title = exercise_link(key)
    return planned


def plan_for(answers: dict[str, str]) -> list[PlanStep]:
    """One small step per horizon, the one that speaks most to what was answered.

    A step scores two for each statement it helps that was answered "often"
    and one for "sometimes"; ties go to a step whose link is not in the plan
    yet, then to the content's order.
    """
    steps = self_check()["step"]
    plan: list[PlanStep] = []
    used_links: set[str] = set()
    for horizon, label in HORIZONS:
        candidates = [
            (
                sum(WEIGHT.get(answers.get(key, ""), 0) for key in step.get("helps", [])),
                step.get("link", "") not in used_links,
                -index,
                step,
            )
            for index, step in enumerate(steps)
            if step["horizon"] == horizon
        ]
        if not candidates:
            continue
        *_, best = max(candidates, key=lambda c: c[:3])
        used_links.add(best.get("link", ""))
        plan.append(plan_step(label, best))
    return plan


@couple_required
@require_http_methods(["GET", "POST"])
def self_check_page(request: HttpRequest) -> HttpResponse:
    today = local_today(request.user)
    if request.method == "POST":
        form = SelfCheckForm(request.POST)
        if form.is_valid():
            Entry.objects.update_or_create(
                couple=request.couple,
                session=None,
                author=request.user,
                prompt_key=f"{SELF_CHECK}{today.isoformat()}",
                defaults={
                    "visibility": Visibility.PRIVATE,
                    "data": {"answers": form.cleaned_data},
                },
            )
            return _done(request, reverse("self_check"), "#plan")
    # Only ever the requester's own: the answers are private by design.
    latest = (
        Entry.objects.filter(
            couple=request.couple,
            session=None,
            author=request.user,
            prompt_key__startswith=SELF_CHECK,
        )
        .visible_to(request.user)
        .order_by("-prompt_key")
        .first()
    )
    answers = latest.data.get("answers", {}) if latest else {}
    if request.method != "POST":
        form = SelfCheckForm()
    statements = self_check()["statement"]
    ctx = {
        "form": form,
        "intro": self_check().get("intro", ""),
        "latest": latest,
        "latest_day": date.fromisoformat(latest.prompt_key.removeprefix(SELF_CHECK))
        if latest
        else None,
        "noticed": [s["text"] for s in statements if answers.get(s["key"]) == "often"],
        "plan": plan_for(answers) if latest else [],
    }
    status = 422 if form.is_bound else 200
    return _rerender(request, "exercises/journal/self_check.html", "check-form", ctx, status)


@require_GET
def get_help(request: HttpRequest) -> HttpResponse:
    # Open to anyone, signed in or not: someone who does not feel safe
    # should never need an account, or a partner's space, to read it.
    return render(
        request, "exercises/journal/get_help.html", {"therapist": self_check()["therapist"]}
    )


# ---------- Our story ----------

STORY = "story:"
ERAS = [
    ("beginning", "The beginning"),
    ("early-days", "Early days"),
    ("adventures", "Adventures"),
    ("hard-times", "Hard times we got through"),
    ("everyday", "Everyday life"),
    ("milestones", "Milestones"),
]


def prompts() -> dict[str, dict]:
    return {prompt["key"]: prompt for prompt in load("our_story")["prompt"]}


class StoryForm(forms.Form):
    def __init__(self, *args, partner_name: str, opened: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"] = forms.CharField(
            label="Your side of the story",
            max_length=4000,
            widget=forms.Textarea(attrs={"rows": 7}),
            help_text=(
                f"You've both written: {partner_name} reads what you change here."
                if opened
                else f"Sealed: {partner_name} reads it once they've written their side too."
            ),
            error_messages={
                "required": "Write a few lines of your side first.",
                "max_length": "Keep it to 4,000 characters or fewer.",
            },
        )


@dataclass
class Memory:
    prompt: dict
    mine: Entry | None = None
    theirs: Entry | None = None  # only ever set once both have written
    partner_wrote: bool = False


def story_memories(request: HttpRequest, partner: User | None) -> dict[str, Memory]:
    """Every prompt with what the requester may read of it, from two queries."""
    memories = {key: Memory(prompt) for key, prompt in prompts().items()}
    for entry in readable_entries(request, partner).filter(prompt_key__startswith=STORY):
        memory = memories.get(entry.prompt_key.removeprefix(STORY))
        if memory is None:
            continue
        if entry.author_id == request.user.pk:
            memory.mine = entry
        else:
            memory.theirs = entry
    if partner is not None:
        written = Entry.objects.filter(
            couple=request.couple, session=None, author=partner, prompt_key__startswith=STORY
        ).values_list("prompt_key", flat=True)
        for key in written:
            if (memory := memories.get(key.removeprefix(STORY))) is not None:
                memory.partner_wrote = True
    for memory in memories.values():
        # A sealed side opens only against one's own side, whoever else wrote.
        if memory.mine is None:
            memory.theirs = None
    return memories


def timeline(memories: dict[str, Memory]) -> list[tuple[str, list[Memory]]]:
    eras = []
    for era, label in ERAS:
        written = [
            m for m in memories.values() if m.prompt["era"] == era and (m.mine or m.partner_wrote)
        ]
        if written:
            eras.append((label, written))
    return eras


def prompt_menu(memories: dict[str, Memory]) -> list[tuple[str, list[Memory]]]:
    return [
        (label, [m for m in memories.values() if m.prompt["era"] == era]) for era, label in ERAS
    ]


@couple_required
@require_http_methods(["GET", "POST"])
def our_story(request: HttpRequest) -> HttpResponse:
    chosen_key = request.GET.get("prompt", "")
    if chosen_key and chosen_key not in prompts():
        raise Http404("No such memory prompt")
    if request.method == "POST" and not chosen_key:
        raise Http404("Choose a memory first")
    partner = partner_of(request)
    partner_name = partner.get_short_name() if partner else "your partner"
    form = None
    if request.method == "POST":
        form = StoryForm(request.POST, partner_name=partner_name)
        if form.is_valid():
            Entry.objects.update_or_create(
                couple=request.couple,
                session=None,
                author=request.user,
                prompt_key=f"{STORY}{chosen_key}",
                defaults={"visibility": Visibility.SEALED, "text": form.cleaned_data["text"]},
            )
            title = prompts()[chosen_key]["title"]
            messages.success(request, f"Your side of “{title}” is saved.")
            return _done(request, f"{reverse('our_story')}?prompt={chosen_key}", "#story-form")
    memories = story_memories(request, partner)
    chosen = memories.get(chosen_key)
    if form is None and chosen is not None:
        form = StoryForm(
            initial={"text": chosen.mine.text} if chosen.mine else None,
            partner_name=partner_name,
            opened=chosen.theirs is not None,
        )
    ctx = {
        "chosen": chosen,
        "chosen_era": dict(ERAS).get(chosen.prompt["era"], "") if chosen else "",
        "form": form,
        "timeline": timeline(memories),
        "menu": prompt_menu(memories),
        "partner": partner,
        "partner_name": partner_name,
    }
    status = 422 if form is not None and form.is_bound else 200
    return _rerender(request, "exercises/journal/our_story.html", "story-form", ctx, status)
