"""Migration 0002 (Session.kind's choices from the registry) keeps stored sessions valid."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from exercises import engine
from exercises.checks import STORED_KINDS, check_stored_kinds
from exercises.models import Session
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple

BEFORE = [("exercises", "0001_initial")]


def latest(executor: MigrationExecutor) -> list[tuple[str, str]]:
    return [node for node in executor.loader.graph.leaf_nodes() if node[0] == "exercises"]


@pytest.mark.django_db(transaction=True)
def test_sessions_stored_under_the_old_enum_are_valid_and_open_after_the_migration():
    alice, bob = UserFactory(), UserFactory()
    couple = make_couple(alice, bob)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    OldSession = old_apps.get_model("exercises", "Session")
    old_labels = dict(OldSession._meta.get_field("kind").choices)
    for kind in STORED_KINDS:
        example = engine.REGISTRY[kind].example()  # settings and state as a real run has them
        OldSession.objects.create(
            couple_id=couple.pk,
            kind=kind,
            status="finished",
            started_by_id=alice.pk,
            settings=example.settings,
            state=example.state,
        )

    executor = MigrationExecutor(connection)
    executor.migrate(latest(executor))

    stored = list(Session.objects.filter(couple=couple))
    assert sorted(s.kind for s in stored) == sorted(STORED_KINDS)
    client = logged_in(alice)
    for session in stored:
        session.full_clean()
        # Named as before, and still opened by its flow.
        assert session.get_kind_display() == old_labels[session.kind]
        assert engine.flow_for(session).kind == session.kind
        response = client.get(reverse("exercise_summary", args=[session.pk]))
        assert response.status_code == 200
        assert old_labels[session.kind] in response.content.decode()
    assert check_stored_kinds(databases=["default"]) == []


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor can't run inside a transaction
def test_the_migration_changes_no_column():
    """State only: nothing to lock or rewrite on a big table when it runs."""
    executor = MigrationExecutor(connection)
    migration = executor.loader.get_migration("exercises", "0002_session_kind_from_registry")
    statements = executor.loader.collect_sql([(migration, False)])
    assert [sql for sql in statements if not sql.startswith("--")] == []
