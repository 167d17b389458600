"""How I feel loved: a short quiz whose result is shared, its choices kept."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import User
from couples.access import couple_required
from couples.models import Couple
from exercises.content import load
from exercises.journal.common import after_save, partner_of, readable_entries, rerender
from exercises.models import Entry, Visibility

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
            return after_save(request, reverse("love_quiz"), "#results")
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
    return rerender(request, "exercises/journal/love_quiz.html", "quiz-form", ctx, status)
