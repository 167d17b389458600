from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from config.text import plain_text
from couples import once
from couples.access import couple_required, row_required
from rituals import agenda, calendar, catalog, links
from rituals.forms import EARLIEST, LATEST, KeepForm, RitualForm, default_start_date
from rituals.models import Completion, ReminderDelivery, Ritual, local_day_bounds
from rituals.recurrence import describe_rule

# Two weeks of a daily ritual per page; "Earlier" pages back.
HISTORY_PAGE = 14


def get_ritual_for(request: HttpRequest, pk: int) -> Ritual:
    return get_object_or_404(Ritual, pk=pk, couple=request.couple)


def marking(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For keep and undo, the busiest writes: ``view(request, ritual, user)``,
    the ritual read with the viewer in their one query (``row_required``),
    times shown in that partner's zone."""

    @row_required(Ritual, "No such ritual")
    @wraps(view)
    def wrapper(request: HttpRequest, ritual: Ritual) -> HttpResponse:
        return view(request, ritual, request.viewer.user)

    return wrapper


def _render(request, template: str, partial: str, ctx: dict, status: int = 200):
    name = f"{template}#{partial}" if request.htmx else template
    return render(request, name, ctx, status=status)


@couple_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rituals = list(request.couple.rituals.prefetch_related("muted_by"))
    for ritual in rituals:
        ritual.rule_text = describe_rule(ritual.rrule)
        ritual.muted_for_me = any(u.pk == request.user.pk for u in ritual.muted_by.all())
    added = {r.template_key for r in rituals if r.template_key}
    return render(
        request,
        "rituals/index.html",
        {
            "rituals": rituals,
            "templates": [(t, describe_rule(t.rrule)) for t in catalog.templates().values()],
            "added": added,
        },
    )


@couple_required
@require_POST
def add_from_catalog(request: HttpRequest, key: str) -> HttpResponse:
    template = catalog.get(key)
    if template is None:
        raise Http404("No such ritual template")

    def add() -> Ritual:
        ritual = Ritual(
            couple=request.couple,
            template_key=template.key,
            title=template.title,
            description=template.why,
            how_to=template.how_to,
            prompt=template.prompt,
            rrule=template.rrule,
            start_date=default_start_date(request.couple.time_zone),
            start_time=template.time,
            time_zone=request.couple.time_zone,
            duration_minutes=template.duration_minutes,
            reminder_lead_minutes=template.reminder_lead_minutes,
            created_by=request.user,
            request_key=once.posted_key(request),
        )
        ritual.plan_next_reminder(timezone.now())
        ritual.save()
        return ritual

    ritual, created = once.create_once(request.couple.rituals, once.posted_key(request), add)
    if created:
        messages.success(
            request, f"“{ritual.title}” is part of your space now. Both of you can change it."
        )
    return redirect("ritual_detail", pk=ritual.pk)


def _form_page(request, form, ritual=None, status=200):
    return render(request, "rituals/form.html", {"form": form, "ritual": ritual}, status=status)


@couple_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    key = once.posted_key(request)
    instance = Ritual(couple=request.couple, created_by=request.user, request_key=key)
    if request.method == "POST":
        form = RitualForm(request.POST, instance=instance, user=request.user)
        if form.is_valid():
            ritual, created = once.create_once(request.couple.rituals, key, form.save)
            if created:
                messages.success(request, f"“{ritual.title}” added.")
            return redirect("ritual_detail", pk=ritual.pk)
        return _form_page(request, form, status=422)
    initial = {
        "time_zone": request.couple.time_zone,
        "start_date": default_start_date(request.couple.time_zone),
        "start_time": "19:00",
        "duration_minutes": 15,
    }
    return _form_page(request, RitualForm(instance=instance, user=request.user, initial=initial))


@couple_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    ritual = get_ritual_for(request, pk)
    if request.method == "POST":
        form = RitualForm(request.POST, instance=ritual, user=request.user)
        if form.is_valid():
            form.save()
            messages.success(request, "Saved.")
            return redirect("ritual_detail", pk=ritual.pk)
        return _form_page(request, form, ritual, status=422)
    return _form_page(request, RitualForm(instance=ritual, user=request.user), ritual)


@couple_required
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """The next five occurrences of the schedule being typed, for the form's preview."""
    form = RitualForm(request.GET, instance=Ritual(couple=request.couple), user=request.user)
    form.is_valid()
    schedule = RitualForm.schedule(form.cleaned_data) if hasattr(form, "cleaned_data") else None
    occurrences = []
    if schedule is not None and "rrule" in form.cleaned_data:
        zone = request.user.zone
        occurrences = [o.astimezone(zone) for o in schedule.first_n(5, timezone.now())]
    schedule_fields = {
        "frequency",
        "weekdays",
        "interval",
        "month_day",
        "nth",
        "nth_weekday",
        "start_date",
        "start_time",
        "end_date",
        "time_zone",
        "reminder_lead_minutes",
    }
    errors = [
        e
        for name, errs in form.errors.items()
        if name in schedule_fields | {"__all__"}
        for e in errs
    ]
    ctx = {
        "occurrences": occurrences,
        "errors": errors,
        "rule_text": describe_rule(form.cleaned_data["rrule"])
        if "rrule" in form.cleaned_data
        else "",
    }
    return render(request, "rituals/form.html#preview", ctx)


@couple_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A ritual, its streak and its history. Everything below the title is one
    cached fragment (``couples.fragments``): what only it reads is lazy, read
    on a miss."""
    ritual = get_ritual_for(request, pk)
    now = timezone.now()
    zone = request.user.zone
    today = timezone.localdate(now, zone)
    before = _parse_before(request.GET.get("before"))
    upcoming = (
        [o.astimezone(zone) for o in ritual.schedule.first_n(3, now)] if ritual.is_active else []
    )
    ctx = {
        "ritual": ritual,
        "rule_text": describe_rule(ritual.rrule),
        "history": SimpleLazyObject(lambda: _history_page(ritual, before, today, zone)),
        "before": int(before.timestamp()) if before else "",
        "streak": SimpleLazyObject(lambda: agenda.streak(ritual, now, zone)),
        "upcoming": upcoming,
        "muted_for_me": SimpleLazyObject(
            lambda: ritual.muted_by.filter(pk=request.user.pk).exists()
        ),
        "today": today,
    }
    return render(request, "rituals/detail.html", ctx)


def _history_page(ritual: Ritual, before: datetime | None, today: date, zone) -> dict:
    """One page of past occurrences, newest first, and where the next page starts.

    History runs to the end of the viewer's today, so today's occurrence
    shows (and can be marked) even before its start time.
    """
    _, end_of_today = local_day_bounds(today, zone)
    past = ritual.schedule.previous_before(min(before or end_of_today, end_of_today), HISTORY_PAGE)
    slots = []
    if past:
        slots = agenda.slots_between([ritual], past[-1], past[0] + timedelta(seconds=1), zone)
        slots.reverse()
    return {
        "slots": slots,
        "older": int(past[-1].timestamp()) if len(past) == HISTORY_PAGE else None,
    }


def _parse_before(raw: str | None) -> datetime | None:
    try:
        before = datetime.fromtimestamp(int(raw), tz=UTC) if raw else None
    except (ValueError, OverflowError, OSError):
        return None
    if before is not None and not EARLIEST.year <= before.year <= LATEST.year:
        return None
    return before


@couple_required
@require_POST
def toggle_pause(request: HttpRequest, pk: int) -> HttpResponse:
    ritual = get_ritual_for(request, pk)
    ritual.is_active = not ritual.is_active
    ritual.plan_next_reminder(timezone.now())
    ritual.save(update_fields=["is_active", "next_occurrence_at", "next_reminder_at", "updated_at"])
    messages.info(
        request,
        "Resumed: reminders are back."
        if ritual.is_active
        else "Paused. Nothing is scheduled or sent until you resume.",
    )
    return redirect("ritual_detail", pk=ritual.pk)


@couple_required
@require_POST
def toggle_nudges(request: HttpRequest, pk: int) -> HttpResponse:
    ritual = get_ritual_for(request, pk)
    if ritual.muted_by.filter(pk=request.user.pk).exists():
        ritual.muted_by.remove(request.user)
        messages.info(request, "You'll get an email before this ritual again.")
    else:
        ritual.muted_by.add(request.user)
        messages.info(
            request, "No more emails to you for this ritual. Your partner's stay as they are."
        )
    return redirect("ritual_detail", pk=ritual.pk)


@couple_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    ritual = get_ritual_for(request, pk)
    if request.method == "POST":
        ritual.delete()
        messages.info(request, f"“{ritual.title}” removed, with its history.")
        return redirect("rituals")
    return render(request, "rituals/delete.html", {"ritual": ritual})


def _slot_response(request, ritual: Ritual, occurrence: datetime, user: User) -> HttpResponse:
    """The occurrence's row, as the dashboard and the ritual page show it
    (htmx), or back to the page the form was on."""
    if request.htmx:
        zone = user.zone
        ctx = {
            "slot": agenda.slot_at(ritual, occurrence, zone),
            "today": timezone.localdate(timezone.now(), zone),
            "user": user,
        }
        return render(request, "rituals/_slot.html", ctx)
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        target = reverse("dashboard")
    return HttpResponseRedirect(target)


def _keepable(ritual: Ritual, occurrence: datetime, user: User) -> bool:
    """A real occurrence of the ritual, on or before the partner's today."""
    if not ritual.is_occurrence(occurrence):
        return False
    today = timezone.localdate(timezone.now(), user.zone)
    return timezone.localdate(occurrence, user.zone) <= today


@require_POST
@marking
def keep(request: HttpRequest, ritual: Ritual, user: User) -> HttpResponse:
    form = KeepForm(request.POST)
    if not form.is_valid() or not _keepable(ritual, form.cleaned_data["occurrence"], user):
        return HttpResponse("That occurrence can't be marked.", status=422)
    occurrence = form.cleaned_data["occurrence"]
    ritual.mark_kept(occurrence, user, form.cleaned_data["note"], form.cleaned_data["together"])
    return _slot_response(request, ritual, occurrence, user)


@require_POST
@marking
def unkeep(request: HttpRequest, ritual: Ritual, user: User) -> HttpResponse:
    form = KeepForm(request.POST)
    if not form.is_valid() or not ritual.is_occurrence(form.cleaned_data["occurrence"]):
        return HttpResponse("That occurrence can't be changed.", status=422)
    occurrence = form.cleaned_data["occurrence"]
    ritual.unmark(occurrence, user)
    return _slot_response(request, ritual, occurrence, user)


@couple_required
@require_GET
def week_view(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate(timezone.now(), request.user.zone)
    try:
        start = date.fromisoformat(request.GET["start"])
    except (KeyError, ValueError):
        start = today
    start = min(max(start, EARLIEST), LATEST)
    start -= timedelta(days=start.weekday())
    ctx = {
        "days": agenda.week(request.couple, request.user, start),
        "start": start,
        "previous": start - timedelta(days=7),
        "next": start + timedelta(days=7),
        "today": today,
    }
    return render(request, "rituals/week.html", ctx)


# --- the calendar feed ---------------------------------------------------


@couple_required
@require_GET
def calendar_settings(request: HttpRequest) -> HttpResponse:
    url = request.build_absolute_uri(calendar.feed_path(request.couple))
    return render(request, "rituals/calendar.html", {"feed_url": url})


@couple_required
@require_POST
def calendar_regenerate(request: HttpRequest) -> HttpResponse:
    calendar.regenerate(request.couple)
    messages.success(request, "New calendar address made. The old one no longer works.")
    return redirect("calendar_settings")


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    couple = calendar.couple_for_token(token)
    if couple is None:
        raise Http404("Unknown calendar")
    response = HttpResponse(
        calendar.build_feed(couple), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="tend.ics"'
    return response


# --- links from reminder emails (no log-in needed: they are signed) ------


def _link_error(request, status=400):
    return render(request, "rituals/link_problem.html", status=status)


@require_http_methods(["GET", "POST"])
def done_link(request: HttpRequest, token: str) -> HttpResponse:
    """ "We did it" from an email: a page first, the change only on POST (link scanners)."""
    try:
        delivery_id = links.read_done(token)
    except signing.SignatureExpired:
        return _link_error(request, status=410)
    except signing.BadSignature:
        return _link_error(request)
    delivery = (
        ReminderDelivery.objects.select_related("ritual__couple", "recipient")
        .filter(pk=delivery_id)
        .first()
    )
    if (
        delivery is None
        or not delivery.ritual.couple.memberships.active().filter(user=delivery.recipient).exists()
    ):
        return _link_error(request, status=404)
    ritual, user = delivery.ritual, delivery.recipient
    if request.method == "POST":
        together = request.POST.get("together") == "on"
        note = plain_text(request.POST.get("note", ""), 280)
        ritual.mark_kept(delivery.occurrence_at, user, note, together)
        return render(request, "rituals/done_link.html", {"ritual": ritual, "recorded": True})
    ctx = {
        "ritual": ritual,
        "starts_at": timezone.localtime(delivery.occurrence_at, user.zone),
        "already": Completion.objects.filter(
            ritual=ritual, occurrence_at=delivery.occurrence_at, user=user
        ).exists(),
    }
    return render(request, "rituals/done_link.html", ctx)


@require_http_methods(["GET", "POST"])
def mute_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ritual_id, user_id = links.read_mute(token)
    except signing.SignatureExpired:
        return _link_error(request, status=410)
    except signing.BadSignature:
        return _link_error(request)
    ritual = Ritual.objects.filter(pk=ritual_id).first()
    user = User.objects.filter(pk=user_id).first()
    # Someone who has left the space learns nothing more of it from an old email.
    if (
        ritual is None
        or user is None
        or not ritual.couple.memberships.active().filter(user=user).exists()
    ):
        return _link_error(request, status=404)
    if request.method == "POST":
        ritual.muted_by.add(user)
        return render(request, "rituals/mute_link.html", {"ritual": ritual, "done": True})
    return render(request, "rituals/mute_link.html", {"ritual": ritual})


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without our cookie; the token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user_id = links.read_unsubscribe(token)
    except signing.BadSignature:
        return _link_error(request)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return _link_error(request, status=404)
    if request.method == "POST":
        User.objects.filter(pk=user.pk).update(reminders_enabled=False)
        return render(request, "rituals/unsubscribe.html", {"done": True})
    return render(request, "rituals/unsubscribe.html", {"done": False})
