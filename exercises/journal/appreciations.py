"""Three appreciations a day, each shared with the partner or kept private."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import User
from couples.access import couple_required
from couples.models import Couple
from exercises.content import guide
from exercises.journal.common import after_save, local_today, partner_of, readable_entries, rerender
from exercises.models import Entry, Visibility

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
            return after_save(request, reverse("appreciation"))
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
    return rerender(request, "exercises/journal/appreciation.html", "today", ctx, status)
