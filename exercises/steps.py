"""The kinds of step a flow is made of: what each one draws and the actions it takes.

A step's ``kind`` names one of these. Each declares its template (in
templates/exercises/steps/) and a handler per action; the engine looks the
handler up here, so a new kind of step is one ``register_step_kind`` call
and one template, and the system check makes sure both exist.

Every handler runs inside ``engine.act``: under the session's row lock, after
the flow's own ``handle`` had its chance, and before the version is bumped
and the session saved. Skipping an optional step is the engine's, for any kind.
"""

from __future__ import annotations

from exercises.engine import (
    RATINGS,
    ActionError,
    Step,
    StepKind,
    acting_seat,
    advance,
    not_at_this_step,
    pause_timer,
    register_step_kind,
    resume_timer,
    save_entry,
    seat_user_ids,
    start_timer,
)
from exercises.models import Session, Visibility


def _mark_done(session: Session, seat: int) -> None:
    if seat not in session.done_seats:
        session.done_seats = sorted([*session.done_seats, seat])


def _require_turn(session: Session, seat: int) -> None:
    if not session.one_screen and session.turn_seat != seat:
        raise ActionError("It's your partner's turn right now.", 403)


def _chosen_visibility(step: Step, data) -> str:
    chosen = str(data.get("visibility", step.visibility))
    return chosen if chosen in (Visibility.SHARED, Visibility.PRIVATE) else step.visibility


# --- reading together: info, list, reveal ---------------------------------------


def next_unless_rated(session: Session, step: Step, seat: int, data) -> None:
    # A step with a rater moves on when the guess is rated, not with "next".
    if step.rater is not None:
        raise not_at_this_step()
    advance(session)


def rate(session: Session, step: Step, seat: int, data) -> None:
    if step.rater is None:
        raise not_at_this_step()
    if acting_seat(session, seat, data) != step.rater:
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


# --- timers: timer, and the optional timer of turns --------------------------


def ready(session: Session, step: Step, seat: int, data) -> None:
    """The shared timer starts when both are ready (on one screen, at once)."""
    if session.one_screen:
        session.done_seats = [1, 2]
    else:
        _mark_done(session, seat)
    if len(session.done_seats) == 2 and session.timer_started_at is None:
        start_timer(session)


def pause(session: Session, step: Step, seat: int, data) -> None:
    pause_timer(session)


def resume(session: Session, step: Step, seat: int, data) -> None:
    # Only a timer that has run can resume; "resume" before any start does nothing.
    if session.timer_elapsed_ms or session.timer_running:
        resume_timer(session)


def next_after_timer(session: Session, step: Step, seat: int, data) -> None:
    if session.timer_started_at is None and not session.timer_elapsed_ms:
        raise ActionError("Start the timer first, or skip this step.", 409)
    advance(session)


# --- turns --------------------------------------------------------------------


def start_turn_timer(session: Session, step: Step, seat: int, data) -> None:
    if not step.is_timed:
        raise not_at_this_step()
    _require_turn(session, seat)
    start_timer(session)


def turn_done(session: Session, step: Step, seat: int, data) -> None:
    """The speaker is done: keep their note, then the other speaks, or the step ends."""
    _require_turn(session, seat)
    speaker = session.turn_seat
    text = str(data.get("note", ""))
    if step.note and text.strip():
        visibility = _chosen_visibility(step, data)
        save_entry(session, step, seat_user_ids(session)[speaker], text, visibility=visibility)
    _mark_done(session, speaker)
    if len(session.done_seats) == 2:
        advance(session)
    else:
        session.turn_seat = 2 if speaker == 1 else 1
        session.timer_started_at = None
        session.timer_elapsed_ms = 0
        session.timer_running = False


def keep_turn_note(session: Session, step: Step, writer: int, author: int, words, data) -> bool:
    if not step.note:
        return False
    save_entry(session, step, author, words, visibility=_chosen_visibility(step, data))
    return True


# --- writing ------------------------------------------------------------------


def submit(session: Session, step: Step, seat: int, data) -> None:
    """An answer; the step ends when every seat that writes here has written."""
    writer = acting_seat(session, seat, data)
    if writer not in step.writers:
        raise ActionError("This answer is your partner's to give.", 403)
    text = str(data.get("text", ""))
    if not text.strip():
        raise ActionError("Write something first, even a few words.", 422)
    save_entry(session, step, seat_user_ids(session)[writer], text)
    _mark_done(session, writer)
    if all(w in session.done_seats for w in step.writers):
        advance(session)


def keep_answer(session: Session, step: Step, writer: int, author: int, words, data) -> bool:
    if writer not in step.writers:
        return False
    save_entry(session, step, author, words)
    return True


TIMER_CONTROLS = {"pause": pause, "resume": resume}

register_step_kind(
    StepKind("info", "exercises/steps/info.html", actions={"next": next_unless_rated})
)
register_step_kind(
    StepKind("list", "exercises/steps/list.html", actions={"next": next_unless_rated})
)
register_step_kind(
    StepKind(
        "reveal",
        "exercises/steps/reveal.html",
        actions={"next": next_unless_rated, "rate": rate},
        shows_entries=True,
    )
)
register_step_kind(
    StepKind(
        "timer",
        "exercises/steps/timer.html",
        actions={"ready": ready, **TIMER_CONTROLS, "next": next_after_timer},
    )
)
register_step_kind(
    StepKind(
        "turns",
        "exercises/steps/turns.html",
        actions={**TIMER_CONTROLS, "start_timer": start_turn_timer, "turn_done": turn_done},
        words={"turn_done": "note"},
        keep_words=keep_turn_note,
        shows_entries=True,
    )
)
register_step_kind(
    StepKind(
        "write",
        "exercises/steps/write.html",
        actions={"submit": submit},
        words={"submit": "text"},
        keep_words=keep_answer,
    )
)
