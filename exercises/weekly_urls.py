from __future__ import annotations

from django.urls import path

from exercises import weekly

urlpatterns = [
    path("exercises/weekly/", weekly.weekly_checkins, name="weekly_checkins"),
]
