from __future__ import annotations

from django.urls import path

from exercises import journal

urlpatterns = [
    path("exercises/appreciation/", journal.appreciation, name="appreciation"),
    path("exercises/how-i-feel-loved/", journal.love_quiz, name="love_quiz"),
    path("exercises/self-check/", journal.self_check_page, name="self_check"),
    path("exercises/when-to-get-help/", journal.get_help, name="get_help"),
    path("exercises/our-story/", journal.our_story, name="our_story"),
]
