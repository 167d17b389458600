"""The exercise contract: the registry, the step kinds and the system check that guards them."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from exercises import engine
from exercises.checks import PICTURES, STORED_KINDS, check_exercises, check_stored_kinds
from exercises.engine import REGISTRY, STEP_KINDS, ActionError, Flow, Step, StepKind, register
from exercises.models import Session
from exercises.templatetags.exercises_tags import exercise_picture


@pytest.fixture
def static_dir(settings, tmp_path):
    """A static folder of the test's own beside the project's (finders built anew around it)."""
    finders.get_finder.cache_clear()
    exercise_picture.cache_clear()
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, tmp_path]
    yield tmp_path
    finders.get_finder.cache_clear()
    exercise_picture.cache_clear()


@pytest.fixture
def registry():
    """Put flows and step kinds back exactly as they were (order included) after the test."""
    flows, registered, step_kinds = dict(REGISTRY), list(engine.REGISTERED), dict(STEP_KINDS)
    yield
    REGISTRY.clear()
    REGISTRY.update(flows)
    engine.REGISTERED[:] = registered
    STEP_KINDS.clear()
    STEP_KINDS.update(step_kinds)


def problems(flow_class: type | None = None, warnings: bool = False) -> list[tuple[str, str]]:
    """(id, message) of the errors the check reports (and its warnings, if asked),
    about one flow class if given."""
    name = engine.flow_name(flow_class) if flow_class else None
    return [
        (error.id, error.msg)
        for error in check_exercises()
        if (warnings or error.is_serious())
        and (name is None or error.obj == name or name in error.msg)
    ]


def valid_kind(kind: str) -> bool:
    """Whether Session.kind takes this value (its own validation, as forms and full_clean do)."""
    try:
        Session._meta.get_field("kind").clean(kind, Session())
    except ValidationError:
        return False
    return True


def ids(flow_class: type) -> set[str]:
    return {id for id, _ in problems(flow_class)}


class Sound(Flow):
    """A flow that passes the check (its content is the hug's), to break one piece at a time."""

    kind = "probe_sound"
    title = "A sound flow"
    summary = "Fine in every way."
    content_name = "hug"
    content_keys = ("intro", "how")

    def steps(self, session: Session) -> list[Step]:
        return [Step("intro", "info", "Read", guide=self.content()["intro"])]


# --- the real registry ----------------------------------------------------------------


def test_the_real_registry_passes_the_check():
    assert problems() == []
    call_command("check")  # raises SystemCheckError on any error


def test_the_database_check_passes_for_stored_sessions_of_every_kind(couple, alice):
    for kind in REGISTRY:
        Session.objects.create(couple=couple, kind=kind, status=Session.Status.FINISHED)
    assert check_stored_kinds(databases=["default"]) == []
    assert [e for e in run_checks(databases=["default"]) if e.id.startswith("exercises.")] == []


def test_session_kinds_are_the_registered_flows_and_journal_pages_are_not_among_them():
    field = Session._meta.get_field("kind")
    assert [value for value, _ in field.choices] == list(REGISTRY)
    assert dict(field.choices)["ladder"] == REGISTRY["ladder"].title
    assert all(valid_kind(kind) for kind in REGISTRY)
    for page in ("appreciation", "love_quiz", "our_story", "self_check", "daily_question"):
        assert not valid_kind(page)


def test_every_kind_sessions_were_stored_under_still_has_its_flow():
    assert set(STORED_KINDS) <= set(REGISTRY)


def test_a_flow_is_in_the_session_choices_as_soon_as_it_is_registered(registry):
    assert not valid_kind(Sound.kind)
    register(Sound)
    assert valid_kind(Sound.kind)
    assert Session(kind=Sound.kind).get_kind_display() == "A sound flow"


def test_the_sound_probe_passes(registry):
    register(Sound)
    assert problems(Sound) == []


# --- broken flows are reported ----------------------------------------------------------


def test_a_flow_without_title_or_summary_or_steps(registry):
    @register
    class Bare(Flow):
        kind = "probe_bare"
        content_name = "hug"

    found = problems(Bare)
    assert ("exercises.E001", "The flow has no title.") in found
    assert ("exercises.E001", "The flow has no summary.") in found
    assert ("exercises.E001", "The flow lists no steps: it needs a steps() method.") in found


@pytest.mark.parametrize("kind", ["Bad-Kind", "has space", "x" * 21, "", None])
def test_a_flow_whose_kind_cannot_be_stored(registry, kind):
    Broken = type("Broken", (Sound,), {"kind": kind})
    register(Broken)
    assert ids(Broken) == {"exercises.E001"}


def test_two_flows_claiming_one_kind(registry):
    hug = REGISTRY["hug"]

    @register
    class AnotherHug(Sound):
        kind = "hug"

    assert REGISTRY["hug"] is hug  # the first claim keeps it
    [message] = [message for id, message in problems() if id == "exercises.E002"]
    assert "exercises.kinds.hug.Hug" in message and "AnotherHug" in message


@pytest.mark.parametrize("kind", ["appreciation", "love_quiz", "our_story", "story", "daily"])
def test_a_flow_taking_a_name_of_the_pages_done_in_your_own_time(registry, kind):
    Taken = type("Taken", (Sound,), {"kind": kind})
    register(Taken)
    assert "exercises.E003" in ids(Taken)


def test_a_flow_without_its_content_file(registry):
    @register
    class Homeless(Sound):
        kind = "probe_homeless"
        content_name = ""

    [(id, message)] = problems(Homeless)
    assert id == "exercises.E004"
    assert "exercises/content/probe_homeless.toml doesn't exist" in message


def test_content_lacking_a_key_the_steps_need(registry):
    @register
    class Curious(Sound):
        kind = "probe_curious"
        content_keys = ("intro", "question.text", "how")

    [(id, message)] = problems(Curious)
    assert id == "exercises.E005"
    assert "exercises/content/hug.toml lacks 'question.text'" in message


def test_content_whose_tables_miss_a_key(registry):
    @register
    class Picky(Sound):
        kind = "probe_picky"
        content_name = "temperature"
        content_keys = ("part.key", "part.starter", "part.mood")

    [(id, message)] = problems(Picky)
    assert id == "exercises.E005" and "'part.mood'" in message


def test_steps_reading_a_key_the_content_lacks(registry):
    @register
    class Forgetful(Sound):
        kind = "probe_forgetful"

        def steps(self, session):
            return [Step("intro", "info", "Read", guide=self.content()["outro"])]

    [(id, message)] = problems(Forgetful)
    assert id == "exercises.E005" and "'outro'" in message


def test_steps_that_cannot_be_built_or_share_a_key(registry):
    @register
    class Crashing(Sound):
        kind = "probe_crashing"

        def steps(self, session):
            return [Step("a", "info", "A")] * int("two")

    @register
    class Twice(Sound):
        kind = "probe_twice"

        def steps(self, session):
            return [Step("a", "info", "A"), Step("a", "write", "A again")]

    assert ids(Crashing) == {"exercises.E006"}
    [(id, message)] = problems(Twice)
    assert id == "exercises.E006" and "share the key 'a'" in message


def test_a_step_kind_without_handlers(registry):
    @register
    class Dancing(Sound):
        kind = "probe_dancing"

        def steps(self, session):
            return [Step("move", "dance", "Dance")]

    [(id, message)] = problems(Dancing)
    assert id == "exercises.E007" and "'dance'" in message


def test_a_step_kind_whose_template_is_missing(registry):
    engine.register_step_kind(
        StepKind("probe_tap", "exercises/steps/probe_tap.html", actions={"next": engine.advance})
    )
    [(id, message)] = [p for p in problems() if "probe_tap" in p[1]]
    assert id == "exercises.E008" and "exercises/steps/probe_tap.html" in message


def test_step_kinds_disagreeing_on_where_words_are(registry):
    engine.register_step_kind(
        StepKind(
            "probe_scribble",
            "exercises/steps/write.html",
            actions={"submit": engine.advance},
            words={"submit": "scribble"},
        )
    )
    assert any(id == "exercises.E007" and "'submit'" in msg for id, msg in problems())


def test_a_stored_kind_losing_its_flow(registry):
    engine.unregister(type(REGISTRY["hug"]))
    found = problems()
    assert ("exercises.E009", "Sessions are stored under the kind 'hug', but no flow runs it.") in (
        found
    )
    # The self-check's plan links to the hug too.
    assert any(id == "exercises.E009" and "links to the exercise 'hug'" in m for id, m in found)


def test_a_flow_without_a_picture_gets_the_generic_one_and_a_warning(registry, static_dir):
    register(Sound)
    [(id, message)] = problems(Sound, warnings=True)
    assert id == "exercises.W011" and f"static/img/ex/{Sound.kind}.svg" in message
    assert exercise_picture(Sound.kind) == "img/ex/exercise.svg"
    assert finders.find(exercise_picture(Sound.kind))  # the generic one exists
    pictures = static_dir / PICTURES
    pictures.mkdir(parents=True)
    (pictures / f"{Sound.kind}.svg").write_text("<svg/>")
    finders.get_finder.cache_clear()
    exercise_picture.cache_clear()
    assert problems(Sound, warnings=True) == []
    assert exercise_picture(Sound.kind) == f"img/ex/{Sound.kind}.svg"


def test_sessions_of_a_kind_no_flow_runs(couple):
    Session.objects.create(couple=couple, kind="hug", status=Session.Status.FINISHED)
    assert check_stored_kinds(databases=["default"]) == []
    # A row written before its flow's module was deleted (create() doesn't validate).
    Session.objects.create(couple=couple, kind="retired_probe", status=Session.Status.FINISHED)
    [error] = check_stored_kinds(databases=["default"])
    assert error.id == "exercises.E010" and "'retired_probe'" in error.msg


def test_manage_py_check_stops_on_a_broken_flow(registry):
    call_command("check")

    @register
    class Bare(Flow):
        kind = "probe_bare"

    with pytest.raises(SystemCheckError, match=r"exercises\.E001"):
        call_command("check")


# --- the step-kind table -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, steps, action",
    [
        ("eye_gazing", 0, "submit"),  # info: only "next"
        ("eye_gazing", 1, "turn_done"),  # timer
        ("weekly_checkin", 1, "ready"),  # write
        ("eye_gazing", 0, "rate"),  # info
        ("temperature", 1, "start_timer"),  # turns without a timer
        ("temperature", 1, "next"),  # turns end when both have spoken
        ("hug", 0, "skip"),  # a step that isn't optional
        ("weekly_checkin", 0, "nonsense"),
    ],
)
def test_an_action_its_step_kind_does_not_take_is_refused_and_changes_nothing(
    couple, alice, kind, steps, action
):
    session = engine.start(couple, alice, 1, kind, Session.Mode.TWO_DEVICES, {})
    for _ in range(steps):
        session = engine.act(session.pk, couple.pk, 1, "next", {})
    before = (session.step, session.version, session.done_seats)
    with pytest.raises(ActionError) as caught:
        engine.act(session.pk, couple.pk, 1, action, {"text": "hello", "note": "hi"})
    assert (caught.value.message, caught.value.status) == ("That can't be done at this step.", 409)
    session.refresh_from_db()
    assert (session.step, session.version, session.done_seats) == before


def test_every_step_kind_names_its_own_template():
    assert {name: kind.template for name, kind in STEP_KINDS.items()} == {
        "info": "exercises/steps/info.html",
        "list": "exercises/steps/list.html",
        "reveal": "exercises/steps/reveal.html",
        "timer": "exercises/steps/timer.html",
        "turns": "exercises/steps/turns.html",
        "write": "exercises/steps/write.html",
    }
