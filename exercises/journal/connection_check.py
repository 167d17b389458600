"""The connection self-check: a few statements, a plan, and when to get help."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from couples.access import couple_required
from exercises.content import load
from exercises.engine import REGISTRY
from exercises.journal.common import after_save, local_today, rerender
from exercises.models import Entry, Visibility
from rituals import catalog

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
            return after_save(request, reverse("self_check"), "#plan")
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
    return rerender(request, "exercises/journal/self_check.html", "check-form", ctx, status)


@require_GET
def get_help(request: HttpRequest) -> HttpResponse:
    # Open to anyone, signed in or not: someone who does not feel safe
    # should never need an account, or a partner's space, to read it.
    return render(
        request, "exercises/journal/get_help.html", {"therapist": self_check()["therapist"]}
    )
