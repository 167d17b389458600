from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class TendAdminConfig(AdminConfig):
    """Django's admin app, with the site that logs in through allauth."""

    default_site = "config.admin.TendAdminSite"
