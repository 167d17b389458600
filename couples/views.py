from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from couples import once, panel, ratelimit, services
from couples.access import couple_required, get_invitation_for
from couples.forms import CodeForm, InviteForm, LeaveForm, SpaceForm
from couples.models import Invitation

Problem = Invitation.Problem
PROBLEM_STATUS = {
    Problem.UNKNOWN: 404,
    Problem.EXPIRED: 410,
    Problem.USED: 410,
    Problem.REVOKED: 410,
}


def _render(request: HttpRequest, template: str, partial: str, ctx: dict, status: int = 200):
    """The whole page, or only the named partial when htmx asks for it."""
    name = f"{template}#{partial}" if request.htmx else template
    return render(request, name, ctx, status=status)


@login_required
@require_POST
def create_space(request: HttpRequest) -> HttpResponse:
    form = SpaceForm(request.POST)
    if not form.is_valid():
        ctx = {"space_form": form, "code_form": CodeForm()}
        return _render(request, "couples/start.html", "space-form", ctx, status=422)
    services.create_space(request.user, name=form.cleaned_data["name"])
    messages.success(request, "Your space is ready. Invite your partner when you like.")
    return redirect("dashboard")


def _to_dashboard(request: HttpRequest) -> HttpResponse:
    """Back to the dashboard: a real redirect, or for htmx a whole-page one."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse("dashboard"))
    return redirect("dashboard")


def _invite_panel(request: HttpRequest, form: InviteForm | None = None, status: int = 200):
    """The dashboard's invitation panel alone for htmx; without htmx, as a page
    of its own (the dashboard is drawn by ``home``, above this app)."""
    template = "couples/_invite_panel.html" if request.htmx else "couples/invite.html"
    return render(request, template, panel.context(request, form), status=status)


@couple_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, user=request.user)
    if request.partner is not None:
        messages.info(request, "You are already two in this space.")
        return _to_dashboard(request)
    if not form.is_valid():
        return _invite_panel(request, form, status=422)
    key = once.posted_key(request)
    sent_already = bool(key) and request.couple.invitations.filter(request_key=key).exists()
    if not sent_already and not ratelimit.allow(request, "invite_send"):
        form.add_error(None, "You've sent many invitations in a short time. Try again later.")
        return _invite_panel(request, form, status=429)
    invitation, _, _ = services.issue_invitation(
        request.couple,
        request.user,
        email=form.cleaned_data["email"],
        request_key=key,
    )
    panel.remember_secrets(request, invitation)
    if invitation.email:
        messages.success(request, f"Invitation on its way to {invitation.email}.")
    if request.htmx:
        return _invite_panel(request)
    return redirect("dashboard")


@couple_required
@require_POST
def renew_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_for(request, pk)
    if not invitation.is_pending:
        messages.error(request, "That invitation is closed: create a new one.")
        return _to_dashboard(request)
    if not ratelimit.allow(request, "invite_send"):
        messages.error(request, "You've sent many invitations in a short time. Try again later.")
        return _to_dashboard(request)
    services.renew_invitation(invitation, issued=request.POST.get("issued", ""))
    invitation.refresh_from_db()
    panel.remember_secrets(request, invitation)
    if invitation.email:
        messages.success(request, f"We sent a new link and code to {invitation.email}.")
    else:
        messages.success(request, "Here's a new link and code. The old ones no longer work.")
    if request.htmx:
        return _invite_panel(request)
    return redirect("dashboard")


@couple_required
@require_POST
def revoke_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_for(request, pk)
    invitation.revoke()
    request.session.pop(panel.FRESH_KEY, None)
    messages.info(request, "Invitation withdrawn. Its link and code no longer work.")
    if request.htmx:
        return _invite_panel(request)
    return redirect("dashboard")


def _problem_page(request: HttpRequest, problem: Invitation.Problem, invitation=None):
    ctx = {"problem": problem, "invitation": invitation}
    return render(
        request, "couples/invitation_problem.html", ctx, status=PROBLEM_STATUS.get(problem, 409)
    )


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = Invitation.find_by_token(token)
    if found is None:
        return _problem_page(request, Problem.UNKNOWN)
    if not request.user.is_authenticated:
        problem = found.state_problem()
        if problem is not None:
            return _problem_page(request, problem, found)
        # The marker, not a ?next= with this path, brings the visitor back here
        # after signing up or logging in (accounts/adapter.py): allauth would keep
        # a ?next=, link and all, in the session until the email is confirmed.
        request.session[panel.PENDING_KEY] = panel.marker(found)
        signup_url = reverse("account_signup")
        if found.email:
            signup_url += "?" + urlencode({"email": found.email})
        ctx = {
            "invitation": found,
            "signup_url": signup_url,
            "login_url": reverse("account_login"),
        }
        return render(request, "couples/invitation.html", ctx)
    if request.method == "POST":
        try:
            services.accept_invitation(request.user, found.pk)
        except services.PairingError as error:
            return _problem_page(request, error.problem, found)
        request.session.pop(panel.PENDING_KEY, None)
        inviter = found.invited_by.get_short_name() if found.invited_by else "your partner"
        messages.success(request, f"Welcome! You now share a space with {inviter}.")
        return redirect("dashboard")
    problem = services.check_invitation(request.user, found)
    if problem is not None:
        return _problem_page(request, problem, found)
    mine = services.active_membership(request.user)
    ctx = {"invitation": found, "leaves_solo_space": mine is not None}
    return render(request, "couples/invitation.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def join_by_code(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return render(request, "couples/join.html", {"form": form})
    status = 422
    if form.is_valid():
        if not ratelimit.allow(request, "invite_code"):
            form.add_error("code", "Too many tries. Wait a few minutes, then try again.")
            status = 429
        else:
            found = Invitation.find_by_code(form.cleaned_data["code"])
            if found is None:
                form.add_error("code", "We don't know this code. Check it with your partner.")
            else:
                try:
                    services.accept_invitation(request.user, found.pk)
                except services.PairingError as error:
                    form.add_error("code", error.problem.label)
                    status = 409
                else:
                    inviter = (
                        found.invited_by.get_short_name() if found.invited_by else "your partner"
                    )
                    messages.success(request, f"Welcome! You now share a space with {inviter}.")
                    return _to_dashboard(request)
    return _render(request, "couples/join.html", "code-form", {"form": form}, status=status)


@couple_required
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest) -> HttpResponse:
    form = LeaveForm(request.POST if request.method == "POST" else None)
    ctx = {"form": form, "couple": request.couple}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "couples/leave.html", ctx, status=422)
        services.leave_couple(request.user)
        request.session.pop(panel.FRESH_KEY, None)
        messages.info(request, "You have left the space. You can start a new one any time.")
        return redirect("dashboard")
    return render(request, "couples/leave.html", ctx)
