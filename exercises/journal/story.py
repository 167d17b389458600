"""Our story: memories each partner writes, sealed until both have written."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import User
from couples.access import couple_required
from exercises.content import load
from exercises.journal.common import after_save, partner_of, readable_entries, rerender
from exercises.models import Entry, Visibility

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
            return after_save(request, f"{reverse('our_story')}?prompt={chosen_key}", "#story-form")
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
    return rerender(request, "exercises/journal/our_story.html", "story-form", ctx, status)
