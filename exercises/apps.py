from __future__ import annotations

from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Exercises"

    def ready(self) -> None:
        from exercises import kinds, receivers  # noqa: F401 (registers flows and receivers)
