from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _worker_broker_timeouts(conf=None, **kwargs) -> None:
    """Workers wait longer on Redis than the web does (settings explain why)."""
    from django.conf import settings

    conf.broker_transport_options = {
        **conf.broker_transport_options,
        **settings.TEND_WORKER_BROKER_TRANSPORT_OPTIONS,
    }
