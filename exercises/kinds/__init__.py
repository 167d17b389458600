"""Every module in this package defines and registers one exercise flow.

Nothing else lists them: dropping a module here (with its content file in
exercises/content/) is how an exercise joins Tend. See docs/adding-an-exercise.md.
"""

from __future__ import annotations

import importlib
import pkgutil


def discover() -> None:
    """Import each module of this package, which registers its flow (once: imports are cached)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


discover()
