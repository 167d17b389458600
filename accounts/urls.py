from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/", views.profile, name="profile"),
    path("delete/", views.delete_account, name="delete_account"),
]
