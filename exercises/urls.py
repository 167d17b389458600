from __future__ import annotations

from django.urls import include, path

from exercises import stream, views

urlpatterns = [
    path("exercises/", views.index, name="exercises"),
    path("exercises/start/<slug:kind>/", views.start, name="exercise_start"),
    path("exercises/s/<int:pk>/", views.session_page, name="exercise_session"),
    path("exercises/s/<int:pk>/act/", views.act, name="exercise_act"),
    path("exercises/s/<int:pk>/poll/", views.poll, name="exercise_poll"),
    path("exercises/s/<int:pk>/stream/", stream.session_stream, name="exercise_stream"),
    path("exercises/s/<int:pk>/summary/", views.summary, name="exercise_summary"),
    path("exercises/history/", views.history, name="exercise_history"),
    path("exercises/waiting/", views.waiting, name="exercise_waiting"),
    path("exercises/waiting/stream/", stream.waiting_stream, name="exercise_waiting_stream"),
    path("exercises/daily/", views.daily_question, name="daily_question"),
    path("exercises/love-maps/", views.love_map, name="love_map"),
    path("", include("exercises.weekly_urls")),
    path("", include("exercises.journal_urls")),
]
