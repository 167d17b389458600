from __future__ import annotations

from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Exercises"

    def ready(self) -> None:
        # Registers the step kinds, the flows, the system checks and the receivers.
        from exercises import checks, kinds, receivers, steps  # noqa: F401
