"""The shared engine of live exercises: steps, turns, timers, entries.

An exercise (a *flow*) lists its steps; the engine moves a session through
them when partners act. Every change happens under a row lock and bumps the
session's version, which is what polls compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config.text import plain_text
from exercises.models import Entry, Session, Visibility


@dataclass(frozen=True)
class Step:
    key: str
    kind: str  # info | list | timer | turns | write | reveal
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
    """One exercise. Subclasses set the class attributes and list their steps."""

    kind: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    minutes: ClassVar[str] = ""
    one_screen: ClassVar[bool] = True
    settings_form: ClassVar[type[forms.Form] | None] = None

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


REGISTRY: dict[str, Flow] = {}


def register(flow_class: type[Flow]) -> type[Flow]:
    REGISTRY[flow_class.kind] = flow_class()
    return flow_class


def flow_for(session: Session) -> Flow:
    return REGISTRY[session.kind]


def prompt_key(session: Session, step: Step) -> str:
    return f"{session.kind}:{step.entry_key or step.key}"


def seat_user_ids(session: Session) -> dict[int, int]:
    return {m.seat: m.user_id for m in session.couple.memberships.active()}


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


def _mark_done(session: Session, seat: int) -> None:
    if seat not in session.done_seats:
        session.done_seats = sorted([*session.done_seats, seat])


def _acting_seat(session: Session, seat: int, data) -> int:
    """On one screen, either partner may act for the seat named in the form."""
    if session.one_screen:
        try:
            chosen = int(data.get("as_seat", seat))
        except (TypeError, ValueError):
            raise ActionError("Choose who is answering.", 422) from None
        if chosen in (1, 2):
            return chosen
    return seat


def _require_turn(session: Session, seat: int) -> None:
    if not session.one_screen and session.turn_seat != seat:
        raise ActionError("It's your partner's turn right now.", 403)


# The field each action that carries words writes them in.
WORDS_FIELD = {"submit": "text", "turn_done": "note"}
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
    session.version = F("version") + 1
    session.updated_at = timezone.now()
    session.save()
    session.refresh_from_db()


def _posted_step(data) -> int | None:
    """The step the acting page showed (a hidden field of every action form)."""
    try:
        return int(data.get("step", ""))
    except (TypeError, ValueError):
        return None


def _overtaken(session: Session, posted: int | None, seat: int, action: str, data) -> Session:
    """An action from a step the session has left: keep its words, change nothing else."""
    words = str(data.get(WORDS_FIELD.get(action, ""), "")).strip()
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


def _keep_words(session: Session, posted: int | None, seat: int, action, words, data) -> bool:
    """Save words on the step they were written for, if that step takes them from this seat."""
    steps = flow_for(session).steps(session)
    if posted is None or not 0 <= posted < len(steps):
        return False
    step = steps[posted]
    try:
        writer = _acting_seat(session, seat, data)
    except ActionError:
        return False
    author = seat_user_ids(session).get(writer)
    if author is None:
        return False
    if action == "submit" and step.kind == "write" and writer in step.writers:
        save_entry(session, step, author, words)
        return True
    if action == "turn_done" and step.kind == "turns" and step.note:
        save_entry(session, step, author, words, visibility=_chosen_visibility(step, data))
        return True
    return False


def _apply(session: Session, step: Step, action: str, seat: int, data) -> None:
    match (step.kind, action):
        case (_, "skip") if step.optional:
            advance(session)
        case ("info" | "list" | "reveal", "next") if step.rater is None:
            advance(session)
        case ("timer", "ready"):
            if session.one_screen:
                session.done_seats = [1, 2]
            else:
                _mark_done(session, seat)
            if len(session.done_seats) == 2 and session.timer_started_at is None:
                start_timer(session)
        case ("timer" | "turns", "pause"):
            pause_timer(session)
        case ("timer" | "turns", "resume"):
            if session.timer_elapsed_ms or session.timer_running:
                resume_timer(session)
        case ("timer", "next"):
            if session.timer_started_at is None and not session.timer_elapsed_ms:
                raise ActionError("Start the timer first, or skip this step.", 409)
            advance(session)
        case ("turns", "start_timer") if step.is_timed:
            _require_turn(session, seat)
            start_timer(session)
        case ("turns", "turn_done"):
            _require_turn(session, seat)
            speaker = session.turn_seat
            text = str(data.get("note", ""))
            if step.note and text.strip():
                visibility = _chosen_visibility(step, data)
                save_entry(
                    session, step, seat_user_ids(session)[speaker], text, visibility=visibility
                )
            _mark_done(session, speaker)
            if len(session.done_seats) == 2:
                advance(session)
            else:
                session.turn_seat = 2 if speaker == 1 else 1
                session.timer_started_at = None
                session.timer_elapsed_ms = 0
                session.timer_running = False
        case ("write", "submit"):
            writer = _acting_seat(session, seat, data)
            if writer not in step.writers:
                raise ActionError("This answer is your partner's to give.", 403)
            text = str(data.get("text", ""))
            if not text.strip():
                raise ActionError("Write something first, even a few words.", 422)
            save_entry(session, step, seat_user_ids(session)[writer], text)
            _mark_done(session, writer)
            if all(w in session.done_seats for w in step.writers):
                advance(session)
        case ("reveal", "rate") if step.rater is not None:
            if _acting_seat(session, seat, data) != step.rater:
                raise ActionError("Your partner says how close your guess was.", 403)
            rating = str(data.get("rating", ""))
            if rating not in RATINGS:
                raise ActionError("Choose spot on, close or not quite.", 422)
            save_entry(
                session,
                Step(key=f"{step.key}-rating", kind="rate", title=""),
                seat_user_ids(session)[step.rater],
                str(data.get("story", "")),
                data={"rating": rating, **step.extra},
                visibility=Visibility.SHARED,
            )
            advance(session)
        case _:
            raise ActionError("That can't be done at this step.", 409)


RATINGS = {"spot_on": "Spot on", "close": "Close", "not_quite": "Not quite"}


def _chosen_visibility(step: Step, data) -> str:
    chosen = str(data.get("visibility", step.visibility))
    return chosen if chosen in (Visibility.SHARED, Visibility.PRIVATE) else step.visibility


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
