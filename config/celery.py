from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class Tend(Celery):
    def send_task(self, *args, **kwargs):
        """Don't publish to a Redis this process already knows is out of reach.

        The cache finds out first (every page reads it) and stops waiting on
        Redis (config/cache.py); a publish to the same server would wait
        again, once per command it sends. It fails at once instead, as it
        would have after its timeouts.
        """
        from django.conf import settings

        from config.cache import outage_for

        redis_url = settings.REDIS_URL
        if redis_url and self.conf.broker_url == redis_url and outage_for(redis_url).down:
            raise OperationalError("Redis is out of reach (known from the cache)")
        return super().send_task(*args, **kwargs)


app = Tend("tend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _worker_settings(conf=None, **kwargs) -> None:
    """Workers wait longer on Redis than the web does (config/settings.py says why)."""
    from django.conf import settings

    conf.update(settings.TEND_CELERY_WORKER_SETTINGS)
