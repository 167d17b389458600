"""Bare pages for load tests: one small query, one small template.

Served only when BENCHMARK_CEILING is set, they measure what this machine,
gunicorn and PostgreSQL can do at best, so each real page's throughput can
be read as a share of them:

- ``ceiling`` is an ordinary view behind the whole middleware stack. Asked
  for with no cookie it is the bare ceiling every page is measured against
  (a bare Django page, no session); with a member's cookies it also pays the
  session read and the user query;
- ``BareCeilingMiddleware`` answers ``/bench/bare/`` before any other
  middleware runs (settings put it first): no session, no authentication, no
  CSRF or CSP, only the query and the template. The benchmark prints it as
  the floor of what a request costs here, for reference.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template

BARE_PATH = "/bench/bare/"


def _first_name() -> str:
    user = get_user_model().objects.only("pk", "display_name").order_by("pk").first()
    return user.display_name if user else "nobody"


def ceiling(request: HttpRequest) -> HttpResponse:
    return render(request, "ceiling.html", {"name": _first_name()})


class BareCeilingMiddleware:
    """The bare ceiling: Django's request handling, one query, one tiny template."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != BARE_PATH:
            return self.get_response(request)
        html = get_template("ceiling.html").render({"name": _first_name()})
        return HttpResponse(html)
