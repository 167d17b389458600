from __future__ import annotations

from django import forms

from exercises.content import load
from exercises.engine import Flow, Step, register
from exercises.models import Session

EYE_CONTACT_SECONDS = 240


class LadderForm(forms.Form):
    eye_contact = forms.BooleanField(
        label="Finish with four minutes of eye contact",
        required=False,
        initial=True,
        help_text="Either of you can skip it on the night.",
    )


def questions_by_set() -> dict[int, list[dict]]:
    """The questions of each set, in the order the content file lists them."""
    content = load("ladder")
    grouped: dict[int, list[dict]] = {int(number): [] for number in content["sets"]}
    for question in content["question"]:
        grouped[int(question["set"])].append(question)
    return grouped


def other(seat: int) -> int:
    return 2 if seat == 1 else 1


@register
class QuestionLadder(Flow):
    """Three sets of questions, each deeper than the last, taken in order.

    One partner reads a question aloud and answers it, then the other answers;
    the reader swaps with every question, across the sets, starting with the
    partner who began. The session stays open between evenings until it ends.
    """

    kind = "ladder"
    title = "Question ladder"
    summary = "Thirty-six questions in three sets, each a little more personal. Take it slowly."
    minutes = "45–60 min, over one or more evenings"
    settings_form = LadderForm
    content_keys = ("intro", "sets", "question.key", "question.set", "question.text")

    def setup(self, session: Session, settings: dict) -> None:
        session.settings = {"eye_contact": bool(settings.get("eye_contact", True))}

    def steps(self, session: Session) -> list[Step]:
        content = self.content()
        set_names = {int(number): name for number, name in content["sets"].items()}
        reader = session.state.get("first_seat", 1)
        steps = [Step("intro", "info", "How it works", guide=content["intro"].strip())]
        for number, questions in questions_by_set().items():
            name, count = set_names[number], len(questions)
            if number > 1:
                steps.append(
                    Step(
                        f"set-{number}",
                        "info",
                        f"Set {number}: {name}",
                        guide="The questions go a little deeper from here. Carry on, or stop "
                        "for tonight: either of you can open this page again later and "
                        "pick up at this point.",
                    )
                )
            for position, question in enumerate(questions, start=1):
                steps.append(
                    Step(
                        question["key"],
                        "turns",
                        f"Set {number}, {name}: question {position} of {count}",
                        guide="The first to speak reads the question aloud and answers it; "
                        "then the other answers.",
                        # The listener sees it too: the reader's voice isn't always enough.
                        prompt=question["text"],
                        listener=question["text"],
                        first=reader,
                        extra={"set": number},
                    )
                )
                reader = other(reader)
        if session.settings.get("eye_contact", True):
            steps.append(
                Step(
                    "eye-contact",
                    "timer",
                    "Four minutes of eye contact",
                    guide="Sit facing each other and look into each other's eyes without "
                    "talking until the time is up. Laughing or glancing away is fine; "
                    "just come back when you can. If eye contact is too much for either of "
                    "you, look at each other's face, or hold hands with your eyes closed.",
                    seconds=EYE_CONTACT_SECONDS,
                    optional=True,
                )
            )
        return steps
