from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _worker_settings(conf=None, **kwargs) -> None:
    """Workers wait longer on Redis than the web does (config/settings.py says why)."""
    from django.conf import settings

    conf.update(settings.TEND_CELERY_WORKER_SETTINGS)
