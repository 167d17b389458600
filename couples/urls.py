from __future__ import annotations

from django.urls import path

from couples import views

urlpatterns = [
    path("space/new/", views.create_space, name="create_space"),
    path("space/invite/", views.invite, name="invite"),
    path("space/invitations/<int:pk>/renew/", views.renew_invitation, name="renew_invitation"),
    path("space/invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("space/leave/", views.leave, name="leave"),
    path("join/", views.join_by_code, name="join"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
]
