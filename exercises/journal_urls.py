from __future__ import annotations

from django.urls import path

from exercises.journal import appreciations, connection_check, feeling_loved, story

urlpatterns = [
    path("exercises/appreciation/", appreciations.appreciation, name="appreciation"),
    path("exercises/how-i-feel-loved/", feeling_loved.love_quiz, name="love_quiz"),
    path("exercises/self-check/", connection_check.self_check_page, name="self_check"),
    path("exercises/when-to-get-help/", connection_check.get_help, name="get_help"),
    path("exercises/our-story/", story.our_story, name="our_story"),
]
