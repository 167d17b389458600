from __future__ import annotations

from django.urls import path

from rituals import views

urlpatterns = [
    path("rituals/", views.index, name="rituals"),
    path("rituals/new/", views.create, name="ritual_new"),
    path("rituals/preview/", views.preview, name="ritual_preview"),
    path("rituals/week/", views.week_view, name="ritual_week"),
    path("rituals/catalog/<slug:key>/add/", views.add_from_catalog, name="ritual_add_template"),
    path("rituals/<int:pk>/", views.detail, name="ritual_detail"),
    path("rituals/<int:pk>/edit/", views.edit, name="ritual_edit"),
    path("rituals/<int:pk>/pause/", views.toggle_pause, name="ritual_pause"),
    path("rituals/<int:pk>/nudges/", views.toggle_nudges, name="ritual_nudges"),
    path("rituals/<int:pk>/delete/", views.delete, name="ritual_delete"),
    path("rituals/<int:pk>/keep/", views.keep, name="ritual_keep"),
    path("rituals/<int:pk>/unkeep/", views.unkeep, name="ritual_unkeep"),
    path("rituals/calendar/", views.calendar_settings, name="calendar_settings"),
    path("rituals/calendar/new/", views.calendar_regenerate, name="calendar_regenerate"),
    path("calendar/<str:token>/tend.ics", views.calendar_feed, name="calendar_feed"),
    path("r/done/<str:token>/", views.done_link, name="ritual_done_link"),
    path("r/pause/<str:token>/", views.mute_link, name="ritual_mute_link"),
    path("r/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
