"""The shared engine of live exercises: steps, turns, timers, entries.

An exercise (a *flow*) lists its steps; the engine moves a session through
them when partners act. Every change happens under a row lock and bumps the
session's version, which is what polls compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.text import plain_text
from exercises.content import load
from exercises.models import Entry, Session, Visibility


@dataclass(frozen=True)
class Step:
    key: str
    kind: str  # a registered step kind: info, list, timer, turns, write, reveal (steps.py)
    title: str
    guide: str = ""
    prompt: str = ""
    # turns: what the listener is asked to do while the other speaks
    listener: str = ""
    # timer steps: the length; turns: an optional timer per speaker
    seconds: int = 0
    # write steps, and the notes of turn steps
    visibility: str = Visibility.SHARED
    note: bool = False
    # write steps: which seats write; turns: which seat speaks first
    writers: tuple[int, ...] = (1, 2)
    first: int | None = None
    optional: bool = False
    # Answers of steps with the same entry key are sealed together (an answer
    # and a guess at it open when both are in); by default each step's own key.
    entry_key: str = ""
    # reveal steps: the entry keys whose answers are shown side by side
    reveal_of: tuple[str, ...] = ()
    # reveal steps: this seat says how close the other's guess was
    rater: int | None = None
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_timed(self) -> bool:
        return self.seconds > 0


class ActionError(Exception):
    """An action that can't be applied. ``words`` carries back what the partner
    wrote with it, when it could not be kept, so the page can hand it back."""

    def __init__(self, message: str, status: int = 409, words: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.words = words


class Flow:
    """One exercise. Subclasses set the class attributes and list their steps.

    A flow is the whole contract of a live exercise: its module in
    exercises/kinds/ registers it, its text lives in exercises/content/<kind>.toml,
    and the system check (checks.py) builds an example run at start-up to prove
    both fit together.
    """

    # Stable identifier, stored on sessions and in prompt keys: never rename one.
    kind: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    minutes: ClassVar[str] = ""
    one_screen: ClassVar[bool] = True
    settings_form: ClassVar[type[forms.Form] | None] = None
    # The content file, exercises/content/<content_name>.toml; the kind by default.
    content_name: ClassVar[str] = ""
    # What the steps read from the content, checked at start-up: "intro" for a
    # top-level key, "question.text" for a key every [[question]] table must have.
    content_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def content_file(cls) -> str:
        return cls.content_name or cls.kind

    def content(self) -> dict:
        return load(self.content_file())

    def setup(self, session: Session, settings: dict) -> None:
        """Fill ``session.settings`` and ``session.state`` before the first step."""
        session.settings = settings

    def steps(self, session: Session) -> list[Step]:
        raise NotImplementedError

    def handle(self, session: Session, step: Step, action: str, seat: int, data) -> bool:
        """Actions of this exercise only; return True if handled."""
        return False

    def summary_of(self, session: Session) -> str:
        return ""

    def example(self) -> Session:
        """An unsaved session as if just started with default settings.

        The system check builds the steps of it. Override this if ``setup``
        reads the database: checks run before there may be one.
        """
        session = Session(kind=self.kind, state={"first_seat": 1})
        self.setup(session, {})
        return session


# kind -> the flow that runs it. Filled by ``register`` as exercises/kinds/ is
# imported; Session.kind's choices are read from it, so it's the one list of
# live exercises.
REGISTRY: dict[str, Flow] = {}
# Every flow class registered, in order, including any whose kind another
# flow had already claimed or that has no kind: the system check reports them.
REGISTERED: list[type[Flow]] = []


def flow_name(flow_class: type) -> str:
    return f"{flow_class.__module__}.{flow_class.__qualname__}"


def register(flow_class: type[Flow]) -> type[Flow]:
    """Add a flow to the registry (a class decorator).

    The first flow to claim a kind keeps it; a second one is only recorded,
    for the system check to report. Registering a class of the same name
    again (its module reloaded) replaces it.
    """
    REGISTERED[:] = [c for c in REGISTERED if flow_name(c) != flow_name(flow_class)]
    REGISTERED.append(flow_class)
    kind = getattr(flow_class, "kind", None)
    if isinstance(kind, str):
        holder = REGISTRY.get(kind)
        if holder is None or flow_name(type(holder)) == flow_name(flow_class):
            REGISTRY[kind] = flow_class()
    return flow_class


def unregister(flow_class: type[Flow]) -> None:
    """Take a flow out of the registry (tests, mostly); the kind's next claimant takes over."""
    REGISTERED[:] = [c for c in REGISTERED if flow_name(c) != flow_name(flow_class)]
    kind = getattr(flow_class, "kind", None)
    holder = REGISTRY.get(kind) if isinstance(kind, str) else None
    if holder is not None and flow_name(type(holder)) == flow_name(flow_class):
        del REGISTRY[kind]
        for other in REGISTERED:
            if getattr(other, "kind", None) == kind:
                REGISTRY[kind] = other()
                break


def flow_for(session: Session) -> Flow:
    return REGISTRY[session.kind]


def prompt_key(session: Session, step: Step) -> str:
    return f"{session.kind}:{step.entry_key or step.key}"


def seat_user_ids(session: Session) -> dict[int, int]:
    return {m.seat: m.user_id for m in session.couple.memberships.active()}


# --- kinds of step ----------------------------------------------------------

# An action on a step: (session, step, acting seat, posted data). It changes
# the session in memory (``act`` saves it) or raises ActionError.
Handler = Callable[[Session, Step, int, Any], None]
# Keeps words posted from a step the session has since left:
# (session, step, writing seat, author's user id, words, posted data) -> kept?
WordsKeeper = Callable[[Session, Step, int, int, str, Any], bool]


@dataclass(frozen=True, eq=False)
class StepKind:
    """One kind of step: the template that draws it and the actions it takes.

    ``words`` names the actions whose form carries what a partner wrote, and
    the field it's in; ``keep_words`` saves such words when they arrive after
    the session has left the step (see ``act``). ``shows_entries``: its
    template lists the step's entries, so a stage of it reads them.
    """

    name: str
    template: str
    actions: Mapping[str, Handler]
    words: Mapping[str, str] = field(default_factory=dict)
    keep_words: WordsKeeper | None = None
    shows_entries: bool = False


STEP_KINDS: dict[str, StepKind] = {}


def register_step_kind(kind: StepKind) -> StepKind:
    STEP_KINDS[kind.name] = kind
    return kind


def step_kind(step: Step) -> StepKind:
    return STEP_KINDS[step.kind]


def not_at_this_step() -> ActionError:
    return ActionError("That can't be done at this step.", 409)


# --- moving through the steps ---------------------------------------------


def current_step(session: Session) -> Step | None:
    steps = flow_for(session).steps(session)
    return steps[session.step] if session.step < len(steps) else None


def _reset_step(session: Session, step: Step | None) -> None:
    session.done_seats = []
    session.timer_started_at = None
    session.timer_elapsed_ms = 0
    session.timer_running = False
    session.turn_seat = (step.first or session.state.get("first_seat", 1)) if step else None


def advance(session: Session) -> None:
    steps = flow_for(session).steps(session)
    session.step += 1
    if session.step >= len(steps):
        finish(session, Session.Status.FINISHED)
        return
    _reset_step(session, steps[session.step])


def finish(session: Session, status: str) -> None:
    session.status = status
    session.finished_at = timezone.now()
    session.timer_running = False


def start_timer(session: Session) -> None:
    session.timer_started_at = timezone.now()
    session.timer_running = True


def pause_timer(session: Session) -> None:
    if session.timer_running:
        session.timer_elapsed_ms = session.timer_elapsed()
        session.timer_running = False
        session.timer_started_at = None


def resume_timer(session: Session) -> None:
    if not session.timer_running:
        session.timer_started_at = timezone.now()
        session.timer_running = True


def save_entry(session: Session, step: Step, author_id: int, text: str, data=None, visibility=None):
    Entry.objects.update_or_create(
        session=session,
        prompt_key=prompt_key(session, step),
        author_id=author_id,
        defaults={
            "couple_id": session.couple_id,
            "text": plain_text(text, 4000),
            "data": data or {},
            "visibility": visibility or step.visibility,
        },
    )


def acting_seat(session: Session, seat: int, data) -> int:
    """On one screen, either partner may act for the seat named in the form."""
    if session.one_screen:
        try:
            chosen = int(data.get("as_seat", seat))
        except (TypeError, ValueError):
            raise ActionError("Choose who is answering.", 422) from None
        if chosen in (1, 2):
            return chosen
    return seat


ENDED_BUT_KEPT = (
    "Your partner ended the exercise just as you sent this. Your words are saved: "
    "you'll find them in the summary."
)
MOVED_ON_BUT_KEPT = "The exercise had already moved on, but your words are saved."


def act(session_id: int, couple_id: int, seat: int, action: str, data) -> Session:
    """Apply one partner's action to a session; return it, changed and saved.

    1. Lock the session row, so two partners acting at once are applied in turn.
    2. An action posted from a step the session has left (the form names its
       step) was overtaken: by a double click, a retried request, the partner,
       or the end of the session. It changes nothing, so a double "next" never
       skips a step; but words it carries are kept on the step they were
       written for, and only if that can't be done are they handed back.
    3. Refuse actions the current step doesn't take.
    4. Apply the action, bump the version, save.

    The returned session's ``notice`` says what happened to overtaken words.
    """
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=session_id, couple_id=couple_id)
        session.notice = ""
        session.moved_by = seat  # announced with the change (``exercises.hub``)
        if action == "end" and not session.is_active:
            return session  # ended twice (a double click, or both at once): it's ended
        posted = _posted_step(data)
        overtaken = not session.is_active or (posted is not None and posted != session.step)
        if overtaken and action != "end":
            return _overtaken(session, posted, seat, action, data)
        if not session.is_active:
            raise ActionError("This exercise has already finished.", 409)
        step = current_step(session)
        if action == "end":
            finish(session, Session.Status.ENDED)
        elif step is None:
            raise ActionError("Nothing left to do here.", 409)
        elif not flow_for(session).handle(session, step, action, seat, data):
            _apply(session, step, action, seat, data)
        _save(session)
        return session


def _save(session: Session) -> None:
    # The row is locked (``act``): nobody else can have moved the version on,
    # so it is counted here rather than read back with another query.
    session.version += 1
    session.updated_at = timezone.now()
    session.save()


def _posted_step(data) -> int | None:
    """The step the acting page showed (a hidden field of every action form)."""
    try:
        return int(data.get("step", ""))
    except (TypeError, ValueError):
        return None


def _overtaken(session: Session, posted: int | None, seat: int, action: str, data) -> Session:
    """An action from a step the session has left: keep its words, change nothing else."""
    words = str(data.get(_words_field(action), "")).strip()
    if not words:
        if not session.is_active:
            raise ActionError("This exercise has already finished.", 409)
        return session  # a double click, or the partner was quicker: nothing to do
    if not _keep_words(session, posted, seat, action, words, data):
        raise ActionError(
            "This exercise has already finished, so your words couldn't be saved. "
            "Copy them below if you'd like to keep them.",
            409,
            words=words,
        )
    # The partner's page may show the answer (a reveal, the summary): tell it.
    _save(session)
    session.notice = MOVED_ON_BUT_KEPT if session.is_active else ENDED_BUT_KEPT
    return session


def _words_field(action: str) -> str:
    """The field an action carries words in, whichever step it was posted from."""
    for kind in STEP_KINDS.values():
        if action in kind.words:
            return kind.words[action]
    return ""


def _keep_words(session: Session, posted: int | None, seat: int, action, words, data) -> bool:
    """Save words on the step they were written for, if that step takes them from this seat."""
    steps = flow_for(session).steps(session)
    if posted is None or not 0 <= posted < len(steps):
        return False
    step = steps[posted]
    kind = STEP_KINDS.get(step.kind)
    if kind is None or kind.keep_words is None or action not in kind.words:
        return False
    try:
        writer = acting_seat(session, seat, data)
    except ActionError:
        return False
    author = seat_user_ids(session).get(writer)
    if author is None:
        return False
    return kind.keep_words(session, step, writer, author, words, data)


def _apply(session: Session, step: Step, action: str, seat: int, data) -> None:
    """Any optional step may be skipped; every other action is its step kind's."""
    if action == "skip" and step.optional:
        advance(session)
        return
    handler = step_kind(step).actions.get(action)
    if handler is None:
        raise not_at_this_step()
    handler(session, step, seat, data)


RATINGS = {"spot_on": "Spot on", "close": "Close", "not_quite": "Not quite"}


def start(couple, user, seat: int, kind: str, mode: str, settings: dict) -> Session:
    """Begin an exercise, or return the one the couple already has going."""
    flow = REGISTRY[kind]
    existing = Session.objects.filter(couple=couple, status=Session.Status.ACTIVE).first()
    if existing is not None:
        return existing
    session = Session(couple=couple, kind=kind, mode=mode, started_by=user)
    session.state = {"first_seat": seat}
    flow.setup(session, settings)
    _reset_step(session, flow.steps(session)[0])
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        # The partner started one in the same instant: join theirs.
        return Session.objects.get(couple=couple, status=Session.Status.ACTIVE)
    return session
