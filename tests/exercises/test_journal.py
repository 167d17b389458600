"""The exercises done at one's own pace: appreciations, how I feel loved, the
connection self-check, our story, and the page on when to get help."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from exercises import journal
from exercises.content import load
from exercises.models import Entry, Visibility
from tests.exports import download_export

# 23:30 in UTC is already the 24th in Berlin (Alice) and still the 23rd in New York (Bob).
NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
ALICE_TODAY = date(2026, 11, 24)
BOB_TODAY = date(2026, 11, 23)
HTMX = {"HTTP_HX_REQUEST": "true"}

PAGES = ["appreciation", "love_quiz", "self_check", "our_story"]


@pytest.fixture(autouse=True)
def _frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def html(response) -> str:
    return response.content.decode()


def is_partial(response) -> bool:
    return "<html" not in html(response)


def write(couple, author, key: str, text: str = "", visibility=Visibility.SHARED, **data):
    return Entry.objects.create(
        couple=couple, author=author, prompt_key=key, text=text, visibility=visibility, data=data
    )


# ---------- Access ----------


@pytest.mark.parametrize("name", [*PAGES])
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("name", [*PAGES, "get_help"])
def test_the_outsider_has_pages_of_his_own(couple, charlie_client, name):
    response = charlie_client.get(reverse(name))
    assert response.status_code == 200
    # Random CSRF tokens and nonces can spell a name ("…eBobiW…"): leave them out.
    secrets = r'csrfmiddlewaretoken" value="[^"]*"|nonce="[^"]*"|"X-CSRFToken": "[^"]*"'
    page = re.sub(secrets, "", html(response))
    assert "Alice" not in page
    assert "Bob" not in page


def test_the_help_page_is_open_to_anyone_and_lists_no_numbers_or_links(client):
    response = client.get(reverse("get_help"))
    assert response.status_code == 200
    page = html(response)
    therapist = load("self_check")["therapist"]
    assert therapist["title"] in page
    assert "If you don't feel safe" in page
    assert "domestic abuse helpline" in page
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert "http" not in main
    assert "tel:" not in main
    assert not any(char.isdigit() for char in therapist["safety"])


# ---------- Appreciation ----------


def appreciations(**fields) -> dict:
    data = {"text_1": "", "text_2": "", "text_3": "", "who_1": "shared", "who_2": "shared"}
    return {"who_3": "shared", **data, **fields}


def test_alice_saves_three_appreciations_on_her_own_day(couple, alice, alice_client):
    response = alice_client.post(
        reverse("appreciation"),
        appreciations(
            text_1="You made tea before I asked.",
            text_2="The joke at breakfast.",
            text_3="How patient you were on the phone.",
            who_3="private",
        ),
    )
    assert response.status_code == 302
    entries = {e.prompt_key: e for e in Entry.objects.filter(author=alice)}
    assert set(entries) == {f"appreciation:{ALICE_TODAY}:{n}" for n in (1, 2, 3)}
    assert entries[f"appreciation:{ALICE_TODAY}:1"].visibility == Visibility.SHARED
    assert entries[f"appreciation:{ALICE_TODAY}:3"].visibility == Visibility.PRIVATE
    assert all(e.session is None and e.couple == couple for e in entries.values())
    page = html(alice_client.get(reverse("appreciation")))
    assert "You made tea before I asked." in page
    assert "How patient you were on the phone." in page


def test_todays_appreciations_can_be_changed_until_the_day_ends(couple, alice, alice_client):
    alice_client.post(reverse("appreciation"), appreciations(text_1="Tea", text_2="Joke"))
    alice_client.post(reverse("appreciation"), appreciations(text_1="Tea, again", who_1="private"))
    entries = Entry.objects.filter(author=alice)
    assert [(e.prompt_key, e.text, e.visibility) for e in entries] == [
        (f"appreciation:{ALICE_TODAY}:1", "Tea, again", Visibility.PRIVATE)
    ]
    # The next morning in Berlin, yesterday's stand and a fresh form opens.
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        alice_client.post(reverse("appreciation"), appreciations(text_1="A new day"))
        page = html(alice_client.get(reverse("appreciation")))
    assert Entry.objects.filter(author=alice).count() == 2
    assert "Tea, again" in page  # now in the journal


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"text_2": "Only the second one"},
        {"text_1": "Fine", "text_2": "x" * 1001},
        {"text_1": "Fine", "who_1": "sealed"},
        {"text_1": "Fine", "who_2": ""},
    ],
)
def test_bad_appreciations_are_shown_again_and_nothing_is_saved(couple, alice_client, fields):
    response = alice_client.post(reverse("appreciation"), appreciations(**fields))
    assert response.status_code == 422
    assert not is_partial(response)
    assert 'class="errors"' in html(response)
    assert not Entry.objects.exists()


def test_bad_appreciations_over_htmx_get_the_form_back_alone(couple, alice_client):
    response = alice_client.post(reverse("appreciation"), appreciations(), **HTMX)
    assert response.status_code == 422
    assert is_partial(response)
    assert 'id="appreciation-today"' in html(response)
    assert "Write at least one thing you appreciated today." in html(response)
    assert not Entry.objects.exists()


def test_good_appreciations_over_htmx_reload_the_page(couple, alice_client):
    response = alice_client.post(reverse("appreciation"), appreciations(text_1="Tea"), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("appreciation")
    assert Entry.objects.count() == 1


def test_bob_never_sees_alices_private_appreciations(couple, alice, alice_client, bob_client):
    alice_client.post(
        reverse("appreciation"),
        appreciations(
            text_1="Shared thanks for the soup", text_2="My secret note", who_2="private"
        ),
    )
    # Yesterday's too, read from the journal.
    write(couple, alice, "appreciation:2026-11-20:1", "Old shared note")
    write(couple, alice, "appreciation:2026-11-20:2", "Old private note", Visibility.PRIVATE)
    for response in (
        bob_client.get(reverse("appreciation")),
        bob_client.get(reverse("appreciation"), **HTMX),
    ):
        assert response.status_code == 200
        assert "My secret note" not in html(response)
        assert "Old private note" not in html(response)
    page = html(bob_client.get(reverse("appreciation")))
    assert "Shared thanks for the soup" in page
    assert "Old shared note" in page


def test_the_week_counts_what_each_gave_and_only_shared_ones_for_the_partner(
    couple, alice, bob, bob_client
):
    for day, slot, visibility in [
        ("2026-11-23", 1, Visibility.SHARED),
        ("2026-11-23", 2, Visibility.PRIVATE),
        ("2026-11-20", 1, Visibility.SHARED),
        ("2026-11-01", 1, Visibility.SHARED),  # more than a week ago
    ]:
        write(couple, alice, f"appreciation:{day}:{slot}", f"alice {day} {slot}", visibility)
    for slot in (1, 2, 3):
        write(couple, bob, f"appreciation:2026-11-22:{slot}", f"bob {slot}")
    write(couple, bob, "appreciation:2026-11-23:1", "bob private", Visibility.PRIVATE)
    overview = html(bob_client.get(reverse("appreciation")))
    assert "you gave 4 appreciations and received 2 from Alice" in overview
    assert "Not a score" in overview


def test_the_journal_keeps_thirty_days(couple, alice, alice_client):
    write(couple, alice, f"appreciation:{ALICE_TODAY - timedelta(days=29)}:1", "Still here")
    write(couple, alice, f"appreciation:{ALICE_TODAY - timedelta(days=30)}:1", "Long gone")
    page = html(alice_client.get(reverse("appreciation")))
    assert "Still here" in page
    assert "Long gone" not in page


def test_the_outsider_sees_no_appreciations_of_the_couple(couple, alice, charlie_client):
    write(couple, alice, f"appreciation:{ALICE_TODAY}:1", "Shared with Bob only")
    for response in (
        charlie_client.get(reverse("appreciation")),
        charlie_client.get(reverse("appreciation"), **HTMX),
    ):
        assert "Shared with Bob only" not in html(response)


@pytest.mark.parametrize("days", [1, 30])
def test_the_appreciation_page_costs_the_same_queries_however_long_the_history(
    couple, alice, bob, bob_client, django_assert_num_queries, days
):
    for n in range(days):
        day = BOB_TODAY - timedelta(days=n)
        for slot in (1, 2, 3):
            write(couple, alice, f"appreciation:{day}:{slot}", f"a{n}{slot}")
            write(couple, bob, f"appreciation:{day}:{slot}", f"b{n}{slot}", Visibility.PRIVATE)
    # the viewer (user, seat, space, partner), entries
    with django_assert_num_queries(2):
        response = bob_client.get(reverse("appreciation"))
    assert response.status_code == 200


# ---------- How I feel loved ----------


def quiz_answers(side: str = "a") -> dict:
    return {item["key"]: side for item in load("love_quiz")["item"]}


def test_alice_takes_the_quiz_and_shares_only_her_result(couple, alice, alice_client):
    response = alice_client.post(reverse("love_quiz"), quiz_answers("a"))
    assert response.status_code == 302
    result = Entry.objects.get(author=alice, prompt_key="love_quiz:result")
    answers = Entry.objects.get(author=alice, prompt_key="love_quiz:answers")
    assert result.visibility == Visibility.SHARED
    assert answers.visibility == Visibility.PRIVATE
    assert answers.data["answers"] == quiz_answers("a")
    assert result.data == journal.quiz_result(quiz_answers("a"))
    assert sum(result.data["counts"].values()) == len(load("love_quiz")["item"])
    page = html(alice_client.get(reverse("love_quiz")))
    assert "You feel most loved through" in page


def test_the_result_names_the_top_one_or_two_ways():
    items = load("love_quiz")["item"]
    all_words = {i["key"]: ("a" if i["a"]["way"] == "words" else "b") for i in items}
    assert journal.quiz_result(all_words)["top"][0] == "words"
    assert journal.quiz_result(all_words)["counts"]["words"] == 12
    # A clear first way stands alone (12 against 9)...
    prefer = ["words", "time", "touch", "help", "gifts"]
    ranked = {
        i["key"]: min(("a", "b"), key=lambda side, i=i: prefer.index(i[side]["way"])) for i in items
    }
    assert journal.quiz_result(ranked)["top"] == ["words"]
    # ... a close second joins it (11 against 10).
    words_or_time = [i for i in items if {i["a"]["way"], i["b"]["way"]} == {"words", "time"}]
    for item in words_or_time[:2]:
        ranked[item["key"]] = "a" if item["a"]["way"] == "time" else "b"
    result = journal.quiz_result(ranked)
    assert (result["counts"]["time"], result["counts"]["words"]) == (11, 10)
    assert result["top"] == ["time", "words"]


def test_retaking_the_quiz_replaces_the_result(couple, alice, alice_client):
    alice_client.post(reverse("love_quiz"), quiz_answers("a"))
    alice_client.post(reverse("love_quiz"), quiz_answers("b"))
    assert Entry.objects.filter(author=alice).count() == 2
    result = Entry.objects.get(author=alice, prompt_key="love_quiz:result")
    assert result.data == journal.quiz_result(quiz_answers("b"))


def test_a_quiz_with_a_pair_left_out_is_shown_again_and_nothing_is_saved(couple, alice_client):
    answers = quiz_answers()
    del answers["q07"]
    answers["q08"] = "c"
    response = alice_client.post(reverse("love_quiz"), answers)
    assert response.status_code == 422
    assert "2 of the pairs still need a choice." in html(response)
    assert "Choose the one that would mean more to you." in html(response)
    assert not Entry.objects.exists()
    partial = alice_client.post(reverse("love_quiz"), answers, **HTMX)
    assert partial.status_code == 422
    assert is_partial(partial)
    assert 'id="quiz-form"' in html(partial)
    assert not Entry.objects.exists()


def test_bob_sees_ideas_for_alice_but_never_her_choices(couple, alice, alice_client, bob_client):
    alice_client.post(reverse("love_quiz"), quiz_answers("a"))
    top = journal.quiz_result(quiz_answers("a"))["top"]
    ways = load("love_quiz")["ways"]
    for response in (
        bob_client.get(reverse("love_quiz")),
        bob_client.get(reverse("love_quiz"), **HTMX),
    ):
        # Bob's own form is never filled in with Alice's choices.
        assert "checked" not in html(response)
    page = html(bob_client.get(reverse("love_quiz")))
    assert "Ideas for Alice, who feels most loved through" in page
    assert ways[top[0]]["ideas"][0] in page
    assert "Bob hasn't taken it yet" not in page
    assert "Alice hasn't taken it yet" not in html(bob_client.get(reverse("love_quiz")))
    # Alice sees her own choices again, Bob has not taken it.
    assert "checked" in html(alice_client.get(reverse("love_quiz")))
    assert "Bob hasn't taken it yet" in html(alice_client.get(reverse("love_quiz")))


def test_the_outsider_sees_no_quiz_result_of_the_couple(couple, alice_client, charlie_client):
    alice_client.post(reverse("love_quiz"), quiz_answers("a"))
    page = html(charlie_client.get(reverse("love_quiz")))
    assert "Ideas for" not in page
    assert "checked" not in page


# ---------- Connection self-check ----------


def check_answers(default: str = "never", **answers) -> dict:
    data = {s["key"]: default for s in load("self_check")["statement"]}
    return {**data, **{key.replace("_", "-"): value for key, value in answers.items()}}


def test_alice_checks_in_privately_and_gets_a_small_steps_plan(couple, alice, alice_client):
    response = alice_client.post(reverse("self_check"), check_answers(phones="often"))
    assert response.status_code == 302
    entry = Entry.objects.get(author=alice)
    assert entry.prompt_key == f"self_check:{ALICE_TODAY}"
    assert entry.visibility == Visibility.PRIVATE
    page = html(alice_client.get(reverse("self_check")))
    for horizon in ("Tonight", "Tomorrow", "This week", "This month"):
        assert f"<h3>{horizon}</h3>" in page
    # "phones" often: the unplugged evening comes first, as a ritual to add.
    add = reverse("ritual_add_template", args=["unplugged-evening"])
    assert f'action="{add}"' in page
    assert reverse("get_help") in page


def test_the_plan_prefers_steps_that_help_with_what_was_answered():
    plan = journal.plan_for(check_answers(not_heard="often", support_elsewhere="sometimes"))
    texts = {step.horizon: step for step in plan}
    tonight = texts["Tonight"]
    assert tonight.text.startswith("Give each other ten minutes")
    assert tonight.exercise_url == reverse("exercises") + "#exercise-stress_talk"
    assert [step.horizon for step in plan] == ["Tonight", "Tomorrow", "This week", "This month"]


def test_plan_links_open_the_exercise_pages_of_their_own():
    plan = journal.plan_for(check_answers(out_of_touch="often", logistics_only="often"))
    assert plan[0].exercise_url == reverse("daily_question")
    assert journal.exercise_link("appreciation")[0] == reverse("appreciation")
    assert journal.exercise_link("love_quiz")[0] == reverse("love_quiz")
    assert journal.exercise_link("our_story")[0] == reverse("our_story")


def test_an_unfinished_self_check_is_shown_again_and_nothing_is_saved(couple, alice_client):
    answers = check_answers()
    del answers["phones"]
    response = alice_client.post(reverse("self_check"), answers)
    assert response.status_code == 422
    assert "Choose how often this has been true for you." in html(response)
    partial = alice_client.post(reverse("self_check"), {**answers, "irritation": "always"}, **HTMX)
    assert partial.status_code == 422
    assert is_partial(partial)
    assert 'id="check-form"' in html(partial)
    assert not Entry.objects.exists()


def test_bob_never_sees_alices_self_check(couple, alice_client, bob_client):
    alice_client.post(reverse("self_check"), check_answers(default="often"))
    for response in (
        bob_client.get(reverse("self_check")),
        bob_client.get(reverse("self_check"), **HTMX),
    ):
        assert "Your small-steps plan" not in html(response)
        assert "You said these have been true often" not in html(response)
        assert "checked" not in html(response)


# ---------- Our story ----------


def story_url(key: str = "") -> str:
    return reverse("our_story") + (f"?prompt={key}" if key else "")


def test_alice_writes_her_side_sealed_until_bob_writes_his(
    couple, alice, bob, alice_client, bob_client
):
    response = alice_client.post(story_url("how-we-met"), {"text": "It rained. You had no coat."})
    assert response.status_code == 302
    entry = Entry.objects.get(author=alice)
    assert (entry.prompt_key, entry.visibility) == ("story:how-we-met", Visibility.SEALED)
    alice_page = html(alice_client.get(reverse("our_story")))
    assert "You've written your side — waiting for Bob's." in alice_page
    assert "It rained. You had no coat." not in alice_page  # not in the timeline

    for response in (
        bob_client.get(reverse("our_story")),
        bob_client.get(story_url("how-we-met")),
        bob_client.get(story_url("how-we-met"), **HTMX),
    ):
        assert response.status_code == 200
        assert "It rained. You had no coat." not in html(response)
    assert "Alice has written their side" in html(bob_client.get(reverse("our_story")))

    bob_client.post(story_url("how-we-met"), {"text": "I remember the umbrella."})
    for client in (alice_client, bob_client):
        page = html(client.get(reverse("our_story")))
        assert "It rained. You had no coat." in page
        assert "I remember the umbrella." in page


def test_the_timeline_follows_the_eras_in_order(couple, alice, bob, alice_client):
    for key in ("proud-of-us", "first-trip", "how-we-met"):
        write(couple, alice, f"story:{key}", f"alice {key}", Visibility.SEALED)
        write(couple, bob, f"story:{key}", f"bob {key}", Visibility.SEALED)
    page = html(alice_client.get(reverse("our_story")))
    timeline = page.split('id="timeline"', 1)[1].split('id="prompts"', 1)[0]
    positions = [timeline.index(label) for label in ("The beginning", "Adventures", "Milestones")]
    assert positions == sorted(positions)
    assert "Early days" not in timeline


def test_alice_can_change_her_side(couple, alice, alice_client):
    alice_client.post(story_url("first-trip"), {"text": "Lisbon"})
    alice_client.post(story_url("first-trip"), {"text": "Lisbon, in the rain"})
    assert list(Entry.objects.values_list("text", flat=True)) == ["Lisbon, in the rain"]
    assert "Lisbon, in the rain" in html(alice_client.get(story_url("first-trip")))


def test_an_unknown_prompt_is_404(couple, alice_client):
    assert alice_client.get(story_url("no-such-memory")).status_code == 404
    assert alice_client.post(story_url("no-such-memory"), {"text": "x"}).status_code == 404
    assert alice_client.post(reverse("our_story"), {"text": "x"}).status_code == 404
    assert not Entry.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", "x" * 4001])
def test_a_bad_side_is_shown_again_and_nothing_is_saved(couple, alice_client, text):
    response = alice_client.post(story_url("how-we-met"), {"text": text})
    assert response.status_code == 422
    assert not is_partial(response)
    partial = alice_client.post(story_url("how-we-met"), {"text": text}, **HTMX)
    assert partial.status_code == 422
    assert is_partial(partial)
    assert 'id="story-form"' in html(partial)
    assert not Entry.objects.exists()


def test_the_outsider_sees_nothing_of_the_couples_story(couple, alice, bob, charlie_client):
    write(couple, alice, "story:how-we-met", "Alice's side", Visibility.SEALED)
    write(couple, bob, "story:how-we-met", "Bob's side", Visibility.SEALED)
    for response in (
        charlie_client.get(reverse("our_story")),
        charlie_client.get(story_url("how-we-met")),
        charlie_client.get(story_url("how-we-met"), **HTMX),
    ):
        assert response.status_code == 200
        assert "Alice's side" not in html(response)
        assert "Bob's side" not in html(response)
        assert "Alice has written" not in html(response)
        assert "Bob has written" not in html(response)


@pytest.mark.parametrize("count", [1, 24])
def test_the_story_page_costs_the_same_queries_however_long_the_story(
    couple, alice, bob, alice_client, django_assert_num_queries, count
):
    for prompt in load("our_story")["prompt"][:count]:
        write(couple, alice, f"story:{prompt['key']}", "a", Visibility.SEALED)
        write(couple, bob, f"story:{prompt['key']}", "b", Visibility.SEALED)
    # the viewer (user, seat, space, partner), readable entries, partner's written keys
    with django_assert_num_queries(3):
        response = alice_client.get(story_url("how-we-met"))
    assert response.status_code == 200


# ---------- The export ----------


def test_bobs_export_holds_nothing_alice_wrote(couple, alice, alice_client, bob_client):
    alice_client.post(
        reverse("appreciation"),
        appreciations(text_1="Export-shared-thanks", text_2="Export-private", who_2="private"),
    )
    alice_client.post(reverse("love_quiz"), quiz_answers("a"))
    alice_client.post(reverse("self_check"), check_answers(default="often"))
    alice_client.post(story_url("how-we-met"), {"text": "Export-sealed-story"})
    response = download_export(bob_client)
    assert response.status_code == 200
    exported = json.dumps(json.loads(response.content))
    for secret in ("Export-shared-thanks", "Export-private", "Export-sealed-story"):
        assert secret not in exported
    assert "love_quiz:answers" not in exported
    assert "self_check:" not in exported
