from __future__ import annotations

from django.apps import AppConfig


class RitualsConfig(AppConfig):
    name = "rituals"
    verbose_name = "Rituals"

    def ready(self) -> None:
        from rituals import receivers  # noqa: F401 (connects them)
