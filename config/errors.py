"""Error pages of our own, safe to render whatever went wrong with the request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def bad_request(
    request: HttpRequest, exception: Exception | None = None, reason: str = ""
) -> HttpResponse:
    """The 400 page. Unlike Django's default it is not wrapped in
    ``requires_csrf_token``, whose CSRF check reads the very body that may be
    what was wrong (``config.middleware.UnreadableBodyMiddleware``)."""
    return render(request, "400.html", {"reason": reason}, status=400)
