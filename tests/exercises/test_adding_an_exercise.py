"""A new exercise is two files: its flow module and its content.

The example of docs/adding-an-exercise.md is written, as it stands there, to
exercises/kinds/ and exercises/content/ under a throwaway kind; nothing else is
touched. It must pass the system check, need no migration, show on the
Exercises page, and take two partners from start to summary.
"""

from __future__ import annotations

import importlib
import re
import secrets
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.urls import reverse

from exercises import content, engine, kinds
from exercises.models import Entry, Session

DOC = Path(settings.BASE_DIR) / "docs" / "adding-an-exercise.md"
EXAMPLE_KIND = "three_good_things"


def example(language: str) -> str:
    """The first ``language`` code block of the guide."""
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, f"docs/adding-an-exercise.md has no {language} example"
    return blocks[0]


@pytest.fixture
def new_exercise():
    """The guide's two files under a kind of our own; everything undone afterwards."""
    kind = f"probe_{secrets.token_hex(4)}"
    module_name = f"{kinds.__name__}.{kind}"
    module_path = Path(kinds.__file__).parent / f"{kind}.py"
    content_path = content.CONTENT_DIR / f"{kind}.toml"
    written = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # leave no .pyc behind
    try:
        content_path.write_text(example("toml"))
        module_path.write_text(example("python").replace(EXAMPLE_KIND, kind))
        importlib.invalidate_caches()
        kinds.discover()  # what start-up does
        yield kind
    finally:
        module_path.unlink(missing_ok=True)
        content_path.unlink(missing_ok=True)
        module = sys.modules.pop(module_name, None)
        if module is not None:
            for value in vars(module).values():
                if isinstance(value, type) and getattr(value, "kind", None) == kind:
                    engine.unregister(value)
        if hasattr(kinds, kind):
            delattr(kinds, kind)
        content.load.cache_clear()
        sys.dont_write_bytecode = written


def post_action(client, session: Session, **data):
    session.refresh_from_db()
    return client.post(
        reverse("exercise_act", args=[session.pk]), {"step": session.step, **data}, follow=True
    )


def test_the_guide_example_uses_its_own_kind():
    # The fixture renames it: make sure the name it replaces is the one the guide uses.
    assert f'kind = "{EXAMPLE_KIND}"' in example("python")


def test_a_flow_module_and_its_content_are_all_a_new_exercise_needs(
    new_exercise, couple, alice, bob, alice_client, bob_client
):
    kind = new_exercise
    assert kind in engine.REGISTRY

    # The contract holds and no migration is wanted.
    found = [e.id for e in run_checks() if e.id.startswith("exercises.")]
    assert found == ["exercises.W011"]  # only: no picture of its own, the generic one shows
    call_command("check")
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # SystemExit if not

    # It's offered on the Exercises page, with its start form.
    page = alice_client.get(reverse("exercises")).content.decode()
    assert f'id="exercise-{kind}"' in page
    assert reverse("exercise_start", args=[kind]) in page

    response = alice_client.post(
        reverse("exercise_start", args=[kind]), {f"{kind}-mode": "two_devices"}
    )
    session = Session.objects.get(couple=couple, kind=kind)
    assert response.url == reverse("exercise_session", args=[session.pk])
    session.full_clean()  # its kind is a valid choice

    # Through its steps: read together, both answer (sealed), both see both.
    steps = engine.flow_for(session).steps(session)
    assert [s.kind for s in steps] == ["info", "write", "reveal"]
    first = alice_client.get(reverse("exercise_session", args=[session.pk])).content.decode()
    assert "How it works" in first and "three good things from today" in first
    answer = post_action(alice_client, session, action="next").content.decode()
    assert "What were three good things about today" in answer
    post_action(alice_client, session, action="submit", text="Our walk by the river.")
    waiting = bob_client.get(reverse("exercise_session", args=[session.pk])).content.decode()
    assert "Our walk by the river." not in waiting  # sealed until Bob has answered
    post_action(bob_client, session, action="submit", text="The soup you made.")
    together = bob_client.get(reverse("exercise_session", args=[session.pk])).content.decode()
    assert "Side by side" in together
    assert "Our walk by the river." in together and "The soup you made." in together
    post_action(bob_client, session, action="next")
    session.refresh_from_db()
    assert session.status == Session.Status.FINISHED
    assert set(Entry.objects.filter(session=session).values_list("prompt_key", flat=True)) == {
        f"{kind}:good-things"
    }

    # Named by its title in the summary and the history.
    summary = alice_client.get(reverse("exercise_summary", args=[session.pk])).content.decode()
    assert "Three good things" in summary and "The soup you made." in summary
    history = alice_client.get(reverse("exercise_history")).content.decode()
    assert "Three good things" in history


def test_the_exercise_is_gone_with_its_files(couple, alice_client):
    """The fixture above leaves nothing behind: no flow, no file."""
    assert not any(kind.startswith("probe_") for kind in engine.REGISTRY)
    assert not list(Path(kinds.__file__).parent.glob("probe_*"))
    assert not list(content.CONTENT_DIR.glob("probe_*"))
