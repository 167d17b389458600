from __future__ import annotations

from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The top layer: pages that compose the other apps (the dashboard, our rhythm,
    the data export) and the sign-up hooks that join accounts to invitations.
    Nothing below imports from here (tests/test_layers.py)."""

    name = "home"
    verbose_name = "Home"
