from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.middleware import without_user
from couples.access import couple_required, row_required, seat
from couples.viewer import Viewer
from exercises import daily, engine, live
from exercises.engine import REGISTRY, ActionError
from exercises.forms import DailyAnswerForm, StartForm
from exercises.kinds import love_maps
from exercises.models import Entry, Session

DAILY_HISTORY = 14


def get_session_for(request: HttpRequest, pk: int) -> Session:
    return get_object_or_404(Session, pk=pk, couple=request.couple)


def _names(request) -> dict[int, str]:
    return {
        m.seat: ("You" if m.user_id == request.user.pk else m.user.get_short_name())
        for m in request.viewer.members
    }


@couple_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    active = Session.objects.filter(couple=request.couple, status=Session.Status.ACTIVE).first()
    flows = [
        {"flow": flow, "form": StartForm(flow=flow, prefix=kind)} for kind, flow in REGISTRY.items()
    ]
    return render(request, "exercises/index.html", {"flows": flows, "active": active})


@couple_required
@require_POST
def start(request: HttpRequest, kind: str) -> HttpResponse:
    flow = REGISTRY.get(kind)
    if flow is None:
        raise Http404("No such exercise")
    form = StartForm(request.POST, flow=flow, prefix=kind)
    if not form.is_valid():
        active = Session.objects.filter(couple=request.couple, status=Session.Status.ACTIVE).first()
        flows = [
            {"flow": f, "form": form if k == kind else StartForm(flow=f, prefix=k)}
            for k, f in REGISTRY.items()
        ]
        return render(
            request, "exercises/index.html", {"flows": flows, "active": active}, status=422
        )
    session = engine.start(
        request.couple,
        request.user,
        request.membership.seat,
        kind,
        form.cleaned_data["mode"],
        form.settings(),
    )
    if session.kind != kind:
        messages.info(
            request, "You already have an exercise going: here it is. End it to start another."
        )
    return redirect("exercise_session", pk=session.pk)


def stage_context(request: HttpRequest, session: Session, error: str = "") -> dict:
    flow = engine.flow_for(session)
    steps = flow.steps(session)
    step = steps[session.step] if session.is_active and session.step < len(steps) else None
    my_seat = request.membership.seat
    keys = []
    # Only steps whose template lists entries read them (the visibility rule's query).
    if step is not None and engine.step_kind(step).shows_entries:
        keys = [engine.prompt_key(session, step)]
        keys += [f"{session.kind}:{key}" for key in step.reveal_of]  # entry keys
    entries = (
        list(
            Entry.objects.filter(session=session, prompt_key__in=keys)
            .visible_to(request.user)
            .select_related("author")
        )
        if keys
        else []
    )
    now = timezone.now()
    return {
        "session": session,
        "flow": flow,
        "step": step,
        "step_number": session.step + 1,
        "step_count": len(steps),
        "my_seat": my_seat,
        "partner_seat": 2 if my_seat == 1 else 1,
        "names": _names(request),
        "entries": entries,
        "ratings": engine.RATINGS,
        "timer_elapsed_ms": session.timer_elapsed(now),
        "server_now_ms": int(now.timestamp() * 1000),
        "error": error,
        # Each stage names these several times: reversed once here.
        "act_url": reverse("exercise_act", args=[session.pk]),
        "poll_url": reverse("exercise_poll", args=[session.pk]),
        "stream_url": reverse("exercise_stream", args=[session.pk]),
    }


@require_GET
@row_required(Session, "No such exercise")
def session_page(request: HttpRequest, session: Session) -> HttpResponse:
    return render(request, "exercises/session.html", stage_context(request, session))


@couple_required
@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        # Found only in the requester's own space, like get_session_for.
        session = engine.act(pk, request.couple.pk, request.membership.seat, action, request.POST)
    except Session.DoesNotExist:
        raise Http404("No such exercise") from None
    except ActionError as error:
        session = get_session_for(request, pk)
        ctx = stage_context(request, session, error=error.message)
        ctx["unsent"] = error.words
        if request.htmx:
            return render(request, "exercises/session.html#stage", ctx, status=error.status)
        return render(request, "exercises/session.html", ctx, status=error.status)
    if request.htmx:
        ctx = stage_context(request, session)
        ctx["notice"] = session.notice
        return render(request, "exercises/session.html#stage", ctx)
    if session.notice:
        messages.info(request, session.notice)
    return redirect("exercise_session", pk=session.pk)


@without_user
@require_GET
def poll(request: HttpRequest, pk: int) -> HttpResponse:
    """204 while the session's version is the one the page has; the new stage otherwise."""
    found = live.session_version(request, pk)
    if found is None:
        raise Http404("No such exercise")
    viewer, version = found
    try:
        seen = int(request.GET.get("v", "0"))
    except ValueError:
        seen = 0
    if version == seen:
        return HttpResponse(status=204)
    seat(request, viewer)
    return HttpResponse(stage_for(request, viewer, get_session_for(request, pk)))


def stage_for(request: HttpRequest, viewer: Viewer, session: Session) -> str:
    """The stage of ``session`` as ``viewer`` may see it: what the poll answers
    and what a live stream carries to the page (``exercises.stream``), so what a
    partner may see (sealed and private entries) is decided in one place."""
    seat(request, viewer)
    with timezone.override(viewer.zone):
        return render_to_string(
            "exercises/session.html#stage", stage_context(request, session), request
        )


@without_user
@require_GET
def waiting(request: HttpRequest) -> HttpResponse:
    """The dashboard's "waiting for you" card: 204 until a live exercise starts or ends."""
    found = live.waiting_signature(request)
    if found is None:
        raise Http404("Not in a space")
    viewer, signature = found
    if request.GET.get("sig") == signature:
        return HttpResponse(status=204)
    timezone.activate(viewer.zone)
    return render(
        request, "exercises/_waiting.html", live.waiting_context(viewer.couple, viewer.user)
    )


@couple_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    sessions = (
        Session.objects.filter(couple=request.couple)
        .exclude(status=Session.Status.ACTIVE)
        # What a row shows: not the three JSON columns, decoded 100 times for nothing.
        .only("pk", "kind", "status", "created_at", "updated_at", "finished_at")
        .order_by("-created_at")[:100]
    )
    return render(request, "exercises/history.html", {"sessions": sessions})


@couple_required
@require_GET
def summary(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_session_for(request, pk)
    flow = engine.flow_for(session)
    labels = {}
    for step in flow.steps(session):
        labels.setdefault(engine.prompt_key(session, step), step.prompt or step.title)
        labels.setdefault(f"{session.kind}:{step.key}-rating", step.prompt or step.title)
    entries = list(
        Entry.objects.filter(session=session).visible_to(request.user).select_related("author")
    )
    for entry in entries:
        entry.label = labels.get(entry.prompt_key, "")
    return render(
        request,
        "exercises/summary.html",
        {"session": session, "entries": entries, "ratings": engine.RATINGS},
    )


@couple_required
@require_http_methods(["GET", "POST"])
def daily_question(request: HttpRequest) -> HttpResponse:
    couple = request.couple
    today = daily.couple_today(couple)
    form = DailyAnswerForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            if not daily.answer(couple, request.user, today, form.cleaned_data["text"]):
                messages.info(request, "You've already answered today's question.")
            if request.htmx:
                return HttpResponseClientRedirect(reverse("daily_question"))
            return redirect("daily_question")
        status = 422
    days = daily.days(couple, request.user, today, DAILY_HISTORY)
    ctx = {
        "today": days[0],
        "past": [d for d in days[1:] if d.mine or d.partner_answered],
        "form": form,
    }
    if request.htmx:
        return render(request, "exercises/daily.html#daily-today", ctx, status=status)
    return render(request, "exercises/daily.html", ctx, status=status)


@couple_required
@require_GET
def love_map(request: HttpRequest) -> HttpResponse:
    return render(
        request, "exercises/love_map.html", {"rows": love_maps.knowledge_map(request.couple)}
    )
