"""Getting a person's data export in tests, the two ways the app makes one."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.test import Client, TestCase
from django.urls import reverse

from home.export import build, request_export
from home.models import DataExport

DOWNLOAD_LINK = re.compile(r'href="(/accounts/export/[0-9a-f-]{36}/)"')


def download_export(client: Client) -> HttpResponse:
    """As a person does it: ask on the page, let it build (tasks run in-process
    once the request commits), follow the page's link."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        asked = client.post(reverse("export_prepare"))
    assert asked.status_code == 302
    page = client.get(reverse("export")).content.decode()
    link = DOWNLOAD_LINK.search(page)
    assert link, "the export page shows no download link"
    response = client.get(link.group(1))
    assert response.status_code == 200
    return response


def prepared_export(user) -> DataExport:
    """A ready export of ``user``, built here rather than by a worker. (Outside a
    test's transaction the queued build may have run already: built either way.)"""
    export = request_export(user)
    outcome = build(export.pk, str(export.token))
    export.refresh_from_db()
    assert export.ready_at is not None, outcome
    return export
