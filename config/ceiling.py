"""A bare page for load tests: one small query, one small template.

Served only when BENCHMARK_CEILING is set, it measures what this machine,
gunicorn and PostgreSQL can do at best, so each real page's throughput can
be read as a share of it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def ceiling(request: HttpRequest) -> HttpResponse:
    user = get_user_model().objects.only("pk", "display_name").order_by("pk").first()
    return render(request, "ceiling.html", {"name": user.display_name if user else "nobody"})
