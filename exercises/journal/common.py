"""What the journal's pages share: the partner, what the requester may read, their today."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User
from exercises.models import Entry, EntryQuerySet


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


def rerender(
    request: HttpRequest, template: str, partial: str, ctx: dict, status: int
) -> HttpResponse:
    if request.htmx:
        return render(request, f"{template}#{partial}", ctx, status=status)
    return render(request, template, ctx, status=status)


def after_save(request: HttpRequest, url: str, anchor: str = "") -> HttpResponse:
    if request.htmx:
        # No fragment: from a page with the same address, the browser would
        # only scroll to it instead of loading the page again.
        return HttpResponseClientRedirect(url)
    return redirect(url + anchor)
