"""Whole member pages, kept in the cache until something they show changes.

A page of the space costs its view's queries and a full template render
(base layout, navigation, forms, lists) every time it is opened, though it
changes only when one of the two partners writes something it shows. So a
page named in ``config.regions.PAGES`` is kept whole, as HTML, under a key
made of the following, and kept with the versions of the scopes it reads
(``config.regions``), read with it in one round trip: a write that changes
what the page shows replaces one of them, at once and after commit, and a
copy of older versions is rendered again.

- the couple (primary key and creation instant);
- the viewer (their user row as their account pages show it, their local
  date; the space's local date: "today" is part of most pages), the host
  and the path;
- ``csrf_placeholder()``: a rotated ``SECRET_KEY`` leaves old copies unused.

Only what belongs to one response is not kept: the CSRF token and the CSP
nonce are rendered as placeholders (``placeholders``, a context processor
that wins over Django's own) and swapped for this request's on every
response, and each create form's once-only ``request_key`` (``couples.once``)
is drawn afresh on every response, so a cached form still acts once.

Not cached, rendered as before: anything but a plain GET of a full page
(htmx fragments, forms posted back with errors), a path with a query
string (an older page of a ritual's history, another week: each value
would be a copy of its own, and anyone could make endless ones), a viewer
without a space or without a partner (the invitation panel changes without
a version), a request with flash messages to show, an answer other than a 200 (a 404 to
an outsider is never kept, and a cached copy is only ever served to the
partner it was rendered for), DEBUG (templates change under a development
server) and while Redis is out of reach (``regions.versions`` answers None).
Copies live at most ``PAGE_TTL``: the bound for writes made behind Tend's
back, and for what a page shows of the clock within one day.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.utils import timezone

from accounts.models import zone_named
from config import regions
from couples import once
from couples.fragments import csrf_placeholder
from couples.viewer import viewer_for

PAGE_TTL = 10 * 60
_RENDERING_FOR_CACHE = "_tend_page_for_cache"
# Headers of the view's own response worth keeping with the page (the rest
# are added on the way out by middleware, on every response alike).
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Disposition")


@cache
def nonce_placeholder() -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), b"tend-page-nonce", hashlib.sha256)
    return "nonce" + digest.hexdigest()[:24]


_ONCE_FIELD = re.compile(rf'name="{once.FIELD}" value="[^"]*"')


@cache
def _once_placeholder() -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), b"tend-page-once", hashlib.sha256)
    return f'name="{once.FIELD}" value="once{digest.hexdigest()[:24]}"'


def placeholders(request: HttpRequest) -> dict:
    """Context processor: while a page renders for the cache, its CSRF token and
    CSP nonce are placeholders (listed after Django's, so these win)."""
    if getattr(request, _RENDERING_FOR_CACHE, False):
        return {"csrf_token": csrf_placeholder(), "csp_nonce": nonce_placeholder()}
    return {}


def _scopes(request: HttpRequest) -> tuple[str, ...] | None:
    match = request.resolver_match
    scopes = regions.PAGES.get(match.url_name) if match else None
    return scopes(match.kwargs) if scopes else None


def dont_keep(request: HttpRequest) -> None:
    """Called by a view, before it renders, that found its page is not one to
    keep this time (it changes with the clock): it renders for this response alone."""
    request._tend_page = None
    setattr(request, _RENDERING_FOR_CACHE, False)


def _key(request: HttpRequest, scopes: tuple[str, ...]) -> str | None:
    if (
        request.method != "GET"
        or settings.DEBUG
        or request.htmx
        or request.META.get("QUERY_STRING")
    ):
        return None
    viewer = viewer_for(request)
    if viewer is None or viewer.membership is None or viewer.partner is None:
        return None
    if len(get_messages(request)):  # shown once, on this page: render it
        return None
    couple, user = viewer.couple, viewer.user
    now = timezone.now()
    identity = [
        csrf_placeholder(),
        couple.pk,
        couple.created_at.timestamp(),
        request.get_host(),
        # The viewer's own row, as their account pages show it.
        user.pk,
        user.email,
        user.display_name,
        user.time_zone,
        user.reminders_enabled,
        timezone.localdate(now, user.zone),
        timezone.localdate(now, zone_named(couple.time_zone)),
        request.path,
    ]
    digest = hashlib.blake2b("\x1f".join(map(str, identity)).encode(), digest_size=16)
    return f"page:{couple.pk}:{digest.hexdigest()}"


def _fill(request: HttpRequest, html: str) -> str:
    """A kept page made this response's: its token, nonce and once-only keys."""
    if csrf_placeholder() in html:
        html = html.replace(csrf_placeholder(), get_token(request))
    if nonce_placeholder() in html:
        html = html.replace(nonce_placeholder(), str(get_nonce(request)))
    return html


class CachedPagesMiddleware:
    """Serves the pages of ``config.regions.PAGES`` from the cache when it can.

    In ``process_view`` (the URL is resolved, the viewer known): a kept copy
    is answered without calling the view. Otherwise the view renders with
    placeholders, the copy is kept, and the placeholders are filled in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        page = getattr(request, "_tend_page", None)
        if page is None:
            return response
        key, current = page
        if (
            response.status_code != 200
            or response.streaming
            or response.cookies
            or len(get_messages(request))  # the view added one: it is on the page
        ):
            if not response.streaming:
                response.content = self._filled(request, response.content.decode())
            return response
        html = response.content.decode(response.charset)
        html = _ONCE_FIELD.sub(_once_placeholder(), html)
        headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
        caches["copies"].set(key, (current, html, headers), PAGE_TTL)
        response.content = self._filled(request, html)
        return response

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        scopes = _scopes(request)
        key = _key(request, scopes) if scopes else None
        if key is None:
            return None
        # The copy is kept with the versions it was rendered at; both are read
        # in one round trip, and a copy of older versions is rendered again.
        couple_id = viewer_for(request).membership.couple_id
        current, kept = regions.versions_and(couple_id, scopes, key)
        if current is None:
            return None
        if kept is None or kept[0] != current:
            request._tend_page = (key, current)
            setattr(request, _RENDERING_FOR_CACHE, True)
            return None
        _, html, headers = kept
        response = HttpResponse(self._filled(request, html))
        for name, value in headers.items():
            response[name] = value
        return response

    @staticmethod
    def _filled(request: HttpRequest, html: str) -> str:
        html = _fill(request, html)
        placeholder = _once_placeholder()
        while placeholder in html:
            html = html.replace(placeholder, f'name="{once.FIELD}" value="{once.new_key()}"', 1)
        return html
