"""A live exercise reads like being guided: numbered steps, the question as a
card, how far along you are, and a kind word at the end."""

from __future__ import annotations

import re

from django.urls import reverse

from exercises import engine
from exercises.content import guide
from exercises.models import Session


def stage(client, session) -> str:
    response = client.get(reverse("exercise_session", args=[session.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_guide_is_numbered_steps_one_a_line(couple, alice, alice_client):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    html = stage(alice_client, session)
    steps = re.search(r'<ol class="steps">(.*?)</ol>', html, re.S)
    assert steps, "the guide is not a numbered list"
    items = re.findall(r"<li>(.*?)</li>", steps.group(1), re.S)
    assert len(items) == len(guide("eye_gazing")["how"]) > 1
    assert "<br>" not in steps.group(1)


def test_a_single_line_prompt_stays_a_card(couple, alice, alice_client):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {"gentle": True})
    html = stage(alice_client, session)
    assert '<ol class="steps">' not in html
    assert 'class="prompt"' in html


def test_the_listener_reads_the_rules_as_a_list(couple, alice, bob_client):
    session = engine.start(couple, alice, 1, "stress_talk", "two_devices", {})
    session = engine.act(session.pk, couple.pk, 1, "next", {})
    assert engine.current_step(session).kind == "turns"
    html = stage(bob_client, session)  # Alice speaks first, Bob listens
    rules = re.search(r'<div class="listener">.*?<ul class="points">(.*?)</ul>', html, re.S)
    assert rules, "the listener's rules are not a list"
    assert len(re.findall(r"<li>", rules.group(1))) == len(guide("stress_talk")["listener_rules"])


def test_the_stage_shows_how_far_along_you_are(couple, alice, alice_client):
    session = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    session = engine.act(session.pk, couple.pk, 1, "next", {})
    html = stage(alice_client, session)
    count = len(engine.flow_for(session).steps(session))
    assert f"Step 2 of {count}" in html
    assert f'<progress class="stage__bar" max="{count}" value="2" aria-hidden="true">' in html


def test_finishing_together_ends_on_a_kind_word_and_a_picture(couple, alice, alice_client):
    session = engine.start(couple, alice, 1, "hug", "two_devices", {})
    engine.finish(session, Session.Status.FINISHED)
    session.save()
    html = stage(alice_client, session)
    assert "Done. Thank you both." in html
    assert "img/done-together.svg" in html
    assert "streak" not in html.lower()
