"""A data export asked for while Redis is down: the page answers, the export follows.

The export row says its build is owed (``build_due_at``); the broker message
is only a trigger. With the broker down the trigger is lost, the page still
answers, and the minute sweep (``sweep_data_exports``, run by beat) queues the
build once Redis is back. A real worker process builds it, once, however often
the sweep runs. (Asking with Redis frozen, through gunicorn, is in
test_web_without_redis.py.)
"""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from couples import services
from home.models import DataExport
from home.tasks import build_data_export, sweep_data_exports
from tests.conftest import logged_in
from tests.exports import DOWNLOAD_LINK
from tests.factories import UserFactory
from tests.faults.conftest import point_celery_at, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_export_asked_for_while_redis_is_down_is_built_once_it_is_back(
    broker, start_worker, sink
):
    alice = UserFactory(display_name="Alice", email="alice@example.com")
    services.create_space(alice)
    client = logged_in(alice)
    broker.stop()

    started = time.monotonic()
    response = client.post(reverse("export_prepare"))
    assert response.status_code == 302
    assert time.monotonic() - started < 5
    assert "Preparing your download" in client.get(reverse("export")).content.decode()
    assert DataExport.objects.get().build_due_at is not None  # owed, and not built

    broker.start()
    point_celery_at(broker.url)  # drop the connections the outage broke
    start_worker().wait_ready()
    assert sweep_data_exports() == 1  # what beat runs every minute

    def ready() -> bool:
        return DataExport.objects.get().ready_at is not None

    wait_until(ready, 30, "the worker to build the export")
    page = client.get(reverse("export")).content.decode()
    link = DOWNLOAD_LINK.search(page)
    assert link, page
    data = json.loads(client.get(link.group(1)).content)
    assert data["profile"]["email"] == "alice@example.com"
    # The sweep again, and again: nothing more is owed, nothing is built twice.
    assert sweep_data_exports() == 0
    assert sweep_data_exports() == 0
    time.sleep(1)
    assert DataExport.objects.get().build_attempts == 1


def test_two_triggers_for_one_export_build_it_once(broker, start_worker, sink):
    alice = UserFactory(display_name="Alice")
    client = logged_in(alice)
    broker.stop()
    assert client.post(reverse("export_prepare")).status_code == 302
    broker.start()
    point_celery_at(broker.url)
    # Both in the queue before any worker reads it: a redelivery, and the sweep.
    export = DataExport.objects.get()
    build_data_export.delay(export.pk, str(export.token))
    assert sweep_data_exports() == 1
    start_worker().wait_ready()
    wait_until(lambda: DataExport.objects.get().ready_at is not None, 30, "the export built")
    time.sleep(1)  # the second message's turn
    export.refresh_from_db()
    assert export.build_attempts == 1
    assert export.size == len(export.payload.encode()) > 0
