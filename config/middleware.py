"""Middleware for every dynamic response: unreadable form bodies and caching."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from config.errors import bad_request

logger = logging.getLogger("django.request")
UNREADABLE_FORM = (
    "The form arrived in a text encoding Tend can't read: it only reads UTF-8, "
    "which every current browser uses."
)


class UnreadableBodyMiddleware:
    """Answer 400 at once to a form body Django refuses to decode.

    Django refuses form data declared in another charset than UTF-8
    (``application/x-www-form-urlencoded; charset=latin-1``) by raising
    ``BadRequest`` from ``request.POST``, but, unlike for a broken multipart
    body, it leaves the body unparsed, so every later reader raises again: the
    CSRF check of the error handler, the debug page. The 400 then became a 500.
    Here the body is read once, before any view; a refusal marks it unreadable
    (as Django does for multipart errors) so nothing trips over it again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 - parsing is the point
            except BadRequest as error:
                request._mark_post_parse_error()
                logger.warning("Bad request (%s): %s", error, request.path)
                return bad_request(request, error, reason=UNREADABLE_FORM)
        return self.get_response(request)


class PrivateResponsesMiddleware:
    """Tell browsers and proxies to keep no copy of any page: pages show couple
    and account data, and after logging out on a shared computer the back
    button must not bring them back. A view that chose its own caching keeps
    it, made private if it wasn't (none does today). Static files never get
    here: whitenoise answers them earlier.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = "private, no-store"
        else:
            patch_cache_control(response, private=True)
        return response
