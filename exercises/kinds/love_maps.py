from __future__ import annotations

import random

from exercises.content import by_key, load
from exercises.engine import RATINGS, Flow, Step, advance, register
from exercises.models import Entry, Session, Visibility

# How much each verdict adds to "how well we know each other" in a category.
WEIGHTS = {"spot_on": 1.0, "close": 0.5, "not_quite": 0.0}


def questions() -> dict[str, dict]:
    return by_key("love_maps", "question")


def categories() -> dict[str, str]:
    return load("love_maps")["categories"]


def pick_question(session: Session, exclude: set[str]) -> str:
    """A question this couple hasn't explored yet, if any remain."""
    asked = set(
        Entry.objects.filter(couple_id=session.couple_id, prompt_key__startswith="love_maps:")
        .exclude(data__question=None)
        .values_list("data__question", flat=True)
    )
    pool = [key for key in questions() if key not in asked | exclude] or list(questions())
    return random.choice(pool)


@register
class LoveMaps(Flow):
    """Rounds of: one answers about themselves (sealed), the other guesses,
    both see both, and the one the question is about says how close it was."""

    kind = "love_maps"
    title = "Love maps"
    summary = "How well do you know each other's inner world? Answer, guess, and talk."
    minutes = "10–30 min"
    one_screen = False  # the answer stays sealed until the guess is in
    content_keys = ("intro", "categories", "question.key", "question.category", "question.text")

    def setup(self, session: Session, settings: dict) -> None:
        session.settings = {}
        session.state["rounds"] = [
            {"question": pick_question(session, set()), "subject": session.state["first_seat"]}
        ]

    def example(self) -> Session:
        # setup() picks a question the couple hasn't explored: that reads the database.
        session = Session(kind=self.kind, settings={}, state={"first_seat": 1})
        session.state["rounds"] = [{"question": next(iter(questions())), "subject": 1}]
        return session

    def steps(self, session: Session) -> list[Step]:
        steps = [Step("intro", "info", "How it works", guide=self.content()["intro"])]
        for number, current in enumerate(session.state["rounds"], start=1):
            question = questions()[current["question"]]
            subject = current["subject"]
            guesser = 2 if subject == 1 else 1
            extra = {
                "question": current["question"],
                "category": question["category"],
                "subject_seat": subject,
            }
            steps += [
                Step(
                    f"answer-{number}",
                    "write",
                    "Your answer",
                    prompt=question["text"],
                    visibility=Visibility.SEALED,
                    writers=(subject,),
                    extra=extra,
                    entry_key=f"round-{number}",
                    guide="Answer about yourself. It stays sealed until your partner has guessed.",
                ),
                Step(
                    f"guess-{number}",
                    "write",
                    "Your guess",
                    prompt=question["text"],
                    visibility=Visibility.SEALED,
                    writers=(guesser,),
                    extra=extra,
                    entry_key=f"round-{number}",
                    guide="What would your partner say? Guess in a few words.",
                ),
                Step(
                    f"reveal-{number}",
                    "reveal",
                    "Side by side",
                    prompt=question["text"],
                    reveal_of=(f"round-{number}",),
                    rater=subject,
                    extra=extra,
                    guide="The one the question is about says how close the guess was, "
                    "and may tell the real story.",
                ),
                Step(
                    f"again-{number}",
                    "info",
                    "Another round?",
                    guide="Swap roles for a new question, or stop here for today.",
                ),
            ]
        return steps

    def handle(self, session: Session, step: Step, action: str, seat: int, data) -> bool:
        if action != "again" or not step.key.startswith("again-"):
            return False
        rounds = session.state["rounds"]
        last = rounds[-1]
        used = {r["question"] for r in rounds}
        rounds.append(
            {"question": pick_question(session, used), "subject": 2 if last["subject"] == 1 else 1}
        )
        session.state = {**session.state, "rounds": rounds}
        advance(session)
        return True


def knowledge_map(couple) -> list[dict]:
    """Per category: questions explored, and how close each partner's guesses came.

    Not a score to win: a picture of where you've looked so far.
    """
    ratings = Entry.objects.filter(
        couple=couple, prompt_key__startswith="love_maps:reveal-", data__has_key="rating"
    ).values_list("data", flat=True)
    names = categories()
    rows = {
        key: {"key": key, "name": name, "explored": 0, "points": 0.0} for key, name in names.items()
    }
    for data in ratings:
        row = rows.get(data.get("category"))
        if row is None or data.get("rating") not in RATINGS:
            continue
        row["explored"] += 1
        row["points"] += WEIGHTS[data["rating"]]
    for row in rows.values():
        row["percent"] = round(100 * row["points"] / row["explored"]) if row["explored"] else 0
        row["bucket"] = row["percent"] // 10  # a CSS width class: no inline styles
    return list(rows.values())
