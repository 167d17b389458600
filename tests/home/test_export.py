"""The data export: asked for on a page, built by a worker, downloaded by its owner only.

Tasks run in-process here once the asking request commits; a real worker
and a stopped broker are in tests/faults/test_export_outbox.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from couples.pages import PAGE_TTL
from home import export as exports
from home.models import KEPT_FOR, SLOW_AFTER, DataExport
from home.tasks import sweep_data_exports
from tests.conftest import logged_in
from tests.exports import DOWNLOAD_LINK, download_export, prepared_export
from tests.factories import PASSWORD


def ask(client, captured, *, execute: bool, htmx: bool = False):
    headers = {"HX-Request": "true"} if htmx else {}
    with captured(execute=execute) as callbacks:
        response = client.post(reverse("export_prepare"), headers=headers)
    return response, callbacks


def link_on(client) -> str | None:
    match = DOWNLOAD_LINK.search(client.get(reverse("export")).content.decode())
    return match.group(1) if match else None


def test_before_asking_the_page_offers_to_prepare_and_holds_no_link(alice_client):
    page = alice_client.get(reverse("export")).content.decode()
    assert "Prepare my download" in page
    assert DOWNLOAD_LINK.search(page) is None
    assert "hx-trigger" not in page
    assert not DataExport.objects.exists()


def test_while_it_is_prepared_the_status_polls_itself_and_then_shows_the_link(
    alice, alice_client, django_capture_on_commit_callbacks
):
    response, callbacks = ask(alice_client, django_capture_on_commit_callbacks, execute=False)
    assert response.status_code == 302 and response.url == reverse("export")
    assert len(callbacks) == 1  # the build, queued once the request commits
    page = alice_client.get(reverse("export")).content.decode()
    assert "Preparing your download" in page
    assert 'hx-trigger="every 2s"' in page
    # Without JavaScript nothing polls: a plain link looks again.
    assert f'<a href="{reverse("export")}">Check now</a>' in page
    assert DOWNLOAD_LINK.search(page) is None
    # What the poll gets: the status alone, still preparing.
    poll = alice_client.get(reverse("export"), headers={"HX-Request": "true"})
    assert "<html" not in poll.content.decode()
    assert "Preparing your download" in poll.content.decode()

    callbacks[0]()  # the worker's turn
    poll = alice_client.get(reverse("export"), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in poll  # no more polling
    assert DOWNLOAD_LINK.search(poll)
    export = DataExport.objects.get(user=alice)
    assert filesizeformat(export.size) in poll and "until" in poll
    assert "Prepare a fresh one" in poll


def test_a_slow_build_says_the_person_can_leave(alice_client, django_capture_on_commit_callbacks):
    ask(alice_client, django_capture_on_commit_callbacks, execute=False)
    assert "taking longer" not in alice_client.get(reverse("export")).content.decode()
    with time_machine.travel(timezone.now() + SLOW_AFTER + timedelta(seconds=1)):
        page = alice_client.get(reverse("export")).content.decode()
    assert "taking longer than usual" in page
    assert "Preparing your download" in page


def test_asking_through_htmx_answers_with_the_status(
    alice_client, django_capture_on_commit_callbacks
):
    response, _ = ask(alice_client, django_capture_on_commit_callbacks, execute=True, htmx=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    # The build is queued as the request commits, after the answer was drawn.
    assert "Preparing your download" in body and 'hx-trigger="every 2s"' in body
    poll = alice_client.get(reverse("export"), headers={"HX-Request": "true"})
    assert DOWNLOAD_LINK.search(poll.content.decode())


def test_the_download_is_everything_she_wrote_as_a_json_file(couple, alice):
    response = download_export(logged_in(alice))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    stamp = DataExport.objects.get(user=alice).ready_at.strftime("%Y-%m-%d")
    assert response["Content-Disposition"] == f'attachment; filename="tend-export-{stamp}.json"'
    data = json.loads(response.content)
    assert data["format"] == "tend-export/1"
    assert data["profile"]["email"] == "alice@example.com"
    assert [s["space"] for s in data["spaces"]] == ["Alice & Bob"]


def test_a_double_click_prepares_one_export(
    alice, alice_client, django_capture_on_commit_callbacks
):
    first, queued = ask(alice_client, django_capture_on_commit_callbacks, execute=False)
    second, queued_again = ask(alice_client, django_capture_on_commit_callbacks, execute=False)
    assert first.status_code == second.status_code == 302
    assert (len(queued), len(queued_again)) == (1, 0)
    assert DataExport.objects.filter(user=alice).count() == 1


def test_two_builds_of_one_request_store_it_once(alice):
    export = exports.request_export(alice)
    assert exports.build(export.pk, str(export.token)) == "ready"
    ready_at = DataExport.objects.get().ready_at
    # A redelivered message, or the sweep's: nothing left to claim.
    assert exports.build(export.pk, str(export.token)) == "not-claimed"
    assert DataExport.objects.get().ready_at == ready_at


def test_a_fresh_export_replaces_the_last_and_its_old_link_says_so(
    couple, alice, alice_client, django_capture_on_commit_callbacks
):
    old = prepared_export(alice)
    old_link = reverse("export_download", args=[old.token])
    assert alice_client.get(old_link).status_code == 200
    ask(alice_client, django_capture_on_commit_callbacks, execute=True)
    new_link = link_on(alice_client)
    assert new_link and new_link != old_link
    gone = alice_client.get(old_link)
    assert gone.status_code == 410
    assert "no longer here" in gone.content.decode()
    assert alice_client.get(new_link).status_code == 200
    assert DataExport.objects.filter(user=alice).count() == 1


def test_a_build_overtaken_by_a_fresh_request_is_dropped(alice):
    export = exports.request_export(alice)
    old_token = str(export.token)
    # The worker claims the first request's build...
    DataExport.objects.filter(pk=export.pk).update(build_due_at=None, ready_at=timezone.now())
    fresh = exports.request_export(alice)
    assert str(fresh.token) != old_token
    # ...and whatever it stores for the old token lands nowhere.
    assert exports.build(export.pk, old_token) == "not-claimed"
    assert exports.build(fresh.pk, str(fresh.token)) == "ready"


def test_after_its_week_the_download_is_gone_and_the_sweep_deletes_it(alice, alice_client):
    export = prepared_export(alice)
    link = reverse("export_download", args=[export.token])
    with time_machine.travel(export.expires_at - timedelta(seconds=1)):
        assert alice_client.get(link).status_code == 200
        assert sweep_data_exports() == 0
        assert DataExport.objects.filter(pk=export.pk).exists()
    with time_machine.travel(export.expires_at + timedelta(seconds=1)):
        gone = alice_client.get(link)
        assert gone.status_code == 410
        assert "kept for a week" in gone.content.decode()
        page = alice_client.get(reverse("export")).content.decode()
        assert "Your last download expired" in page and "Prepare my download" in page
        sweep_data_exports()
    assert not DataExport.objects.filter(pk=export.pk).exists()
    assert timedelta(days=7) == KEPT_FOR  # what the pages promise ("a week", "7 days")


def test_a_build_a_worker_abandoned_is_queued_again_by_the_sweep(alice):
    export = exports.request_export(alice)
    # A worker claimed it and died: the claim holds the build for STALE_BUILD.
    claimed = timezone.now() + exports.STALE_BUILD
    DataExport.objects.filter(pk=export.pk).update(build_due_at=claimed, build_attempts=1)
    assert exports.owed_builds() == []
    with time_machine.travel(claimed + timedelta(seconds=1)):
        assert sweep_data_exports() == 1  # tasks run in-process: it is built now
    assert DataExport.objects.get().state(timezone.now()) == DataExport.State.READY


@pytest.fixture
def broken_section(monkeypatch):
    """A section that raises, as a bug in one app's part of the export would."""

    def broken(user):
        raise RuntimeError("a section broke")

    monkeypatch.setitem(exports.SECTIONS, "broken", broken)


def test_a_build_that_keeps_failing_says_so_and_can_be_asked_again(
    alice, alice_client, broken_section, django_capture_on_commit_callbacks, monkeypatch
):
    export = exports.request_export(alice)
    outcomes = []
    for attempt in range(exports.MAX_BUILD_ATTEMPTS):
        with time_machine.travel(timezone.now() + timedelta(minutes=5 * attempt)):
            outcomes.append(exports.build(export.pk, str(export.token)))
    assert outcomes == ["retry"] * (exports.MAX_BUILD_ATTEMPTS - 1) + ["failed"]
    export.refresh_from_db()
    assert (export.payload, export.build_due_at) == ("", None)
    page = alice_client.get(reverse("export")).content.decode()
    assert "couldn't prepare your download" in page and "Try again" in page
    assert "hx-trigger" not in page
    assert alice_client.get(reverse("export_download", args=[export.token])).url == reverse(
        "export"
    )

    monkeypatch.delitem(exports.SECTIONS, "broken")
    ask(alice_client, django_capture_on_commit_callbacks, execute=True)
    assert link_on(alice_client)


def test_only_its_owner_downloads_it_not_her_partner_nor_anyone(couple, alice, bob, charlie):
    link = reverse("export_download", args=[prepared_export(alice).token])
    assert logged_in(alice).get(link).status_code == 200
    for other in (bob, charlie):
        response = logged_in(other).get(link)
        assert response.status_code == 404
        assert "alice@example.com" not in response.content.decode()
    assert link not in logged_in(bob).get(reverse("export")).content.decode()


def test_deleting_the_account_deletes_its_export(alice):
    prepared_export(alice)
    client = logged_in(alice)
    response = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not DataExport.objects.exists()


def queries_of_two_looks(client) -> list[int]:
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("export")).status_code == 200
        counts.append(len(captured))
    return counts


def test_the_page_is_kept_while_it_stands_still_and_never_when_the_clock_moves_it(
    couple, alice, django_capture_on_commit_callbacks
):
    """Kept (the second look runs only the viewer's query) before asking and
    once ready; drawn every time while preparing (it polls) and in the last
    minutes before the download expires (a kept copy would outlive it)."""
    client = logged_in(alice)
    assert queries_of_two_looks(client) == [2, 1]
    ask(client, django_capture_on_commit_callbacks, execute=False)
    assert queries_of_two_looks(client) == [2, 2]
    export = DataExport.objects.get(user=alice)
    exports.build(export.pk, str(export.token))
    assert queries_of_two_looks(client) == [2, 1]
    export.refresh_from_db()
    last_minutes = export.expires_at - timedelta(seconds=PAGE_TTL - 1)
    with time_machine.travel(last_minutes, tick=False):
        assert queries_of_two_looks(client) == [2, 2]
        assert "is ready" in client.get(reverse("export")).content.decode()


def test_a_build_claimed_just_before_the_account_was_deleted_stores_nothing(alice):
    export = exports.request_export(alice)
    claimed_until = exports.claim_build(export.pk, str(export.token))
    assert claimed_until is not None
    User.objects.filter(pk=alice.pk).delete()  # between the claim and the build
    assert exports.finish_build(export.pk, str(export.token), claimed_until) == "gone"
    assert not DataExport.objects.exists()


def test_a_build_claimed_just_before_a_fresh_request_stores_nothing(alice):
    export = exports.request_export(alice)
    claimed_until = exports.claim_build(export.pk, str(export.token))
    DataExport.objects.filter(pk=export.pk).update(build_due_at=None, failed_at=timezone.now())
    fresh = exports.request_export(alice)  # after a failure: replaced, a new token
    assert exports.finish_build(export.pk, str(export.token), claimed_until) == "gone"
    fresh.refresh_from_db()
    assert fresh.state(timezone.now()) == DataExport.State.PREPARING
