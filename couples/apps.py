from __future__ import annotations

from django.apps import AppConfig


class CouplesConfig(AppConfig):
    name = "couples"
    verbose_name = "Couples"

    def ready(self) -> None:
        from couples import receivers  # noqa: F401 (connects them)
