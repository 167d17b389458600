"""``{% slot %}`` writes exactly what ``rituals/_slot.html`` does, in every state of a row."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import engines
from django.template.loader import get_template
from django.test import RequestFactory
from django.utils import timezone

from rituals.agenda import Slot
from rituals.models import Completion
from tests.factories import make_ritual

AT = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def completion(user, note: str, together: bool, name: str | None) -> Completion:
    row = Completion(user_id=user.pk, occurrence_at=AT, note=note, together=together)
    row.author_name = name
    return row


def states(alice, bob):
    """Every combination that changes the row: kept by whom, notes (with markup),
    together or not, a partner without a name, past or future, with the date."""
    marks = [
        [],
        [completion(alice, "", True, "Alice")],
        [completion(bob, "Lovely <b>walk</b> & talk", False, "Bob")],
        [completion(bob, "", True, None), completion(alice, "“quoted”", True, "Alice")],
    ]
    todays = [date(2026, 12, 2), date(2026, 12, 1)]
    return itertools.product(marks, todays, [False, True])


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Pacific/Auckland"])
def test_the_slot_tag_writes_what_the_template_does(couple, alice, bob, zone):
    ritual = make_ritual(couple, title='Walk <after> "dinner" & tea')
    request = RequestFactory().get("/rituals/7/?before=123&x=<y>")
    source = "{% load rituals_tags %}{% slot slot show_date=show_date %}"
    tag = engines["django"].from_string(source)
    reference = get_template("rituals/_slot.html")
    compared = 0
    with timezone.override(ZoneInfo("America/New_York")):
        for marks, today, show_date in states(alice, bob):
            local = AT.astimezone(ZoneInfo(zone))
            slot = Slot(ritual=ritual, occurrence_at=AT, local_start=local, completions=marks)
            for viewer in (alice, bob):
                context = {
                    "slot": slot,
                    "user": viewer,
                    "today": today,
                    "show_date": show_date,
                    "csrf_token": "token-for-this-response",
                }
                expected = reference.render(context, request)
                assert tag.render(context, request) == expected
                compared += 1
    assert compared == 32
    # The states differ: the comparison above saw every branch of the row.
    assert "Undo my mark" in expected or "We did it" in expected
