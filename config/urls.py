from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.ceiling import ceiling
from config.health import healthz

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("rituals.urls")),
    path("", include("exercises.urls")),
    path("", include("couples.urls")),
    path("", include("home.urls")),
]

handler400 = "config.errors.bad_request"

if settings.BENCHMARK_CEILING:
    urlpatterns.append(path("bench/ceiling/", ceiling, name="bench_ceiling"))
