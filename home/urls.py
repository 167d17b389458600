from __future__ import annotations

from django.urls import path

from home import rhythm_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("rhythm/", rhythm_views.rhythm_page, name="rhythm"),
    path("accounts/export/", views.export, name="export"),
    path("accounts/export/prepare/", views.export_prepare, name="export_prepare"),
    path("accounts/export/<uuid:token>/", views.export_download, name="export_download"),
]
