"""The web side with Redis stopped or frozen: members are served from PostgreSQL.

A real gunicorn (two gthread workers) against the test database and a
private redis-server that each test stops (SIGTERM: connections refused) or
freezes (SIGSTOP: connections accepted by the kernel, never answered). Every
page a member uses must answer without a 5xx, in bounded time, from the
database; /healthz must say "degraded"; and everything must come back by
itself once Redis does, with no restart.

Then, in this process (the test client on a private Redis), what must not
come back with Redis: a session ended, or a page changed, while it was out.
And the web's one publish to the broker, from a process with real settings.
See docs/faults.md, "The web when Redis is down".
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from config.cache import forget_outages, reachable, redis_caches
from couples import services
from exercises import engine
from exercises.models import Session as Exercise
from home.models import DataExport
from rituals.models import Ritual
from tests.conftest import logged_in
from tests.exports import prepared_export
from tests.factories import PASSWORD, UserFactory, make_couple, make_ritual
from tests.faults.conftest import ROOT, PrivateRedis, database_url, wait_until
from tests.faults.web import Browser, Reply, WebServer, sign_in, web_environment
from tests.mailsink import free_port
from tests.security.test_ratelimits import TOO_MANY_CODES, TOO_MANY_LOGINS, wrong_code
from tests.test_access_matrix import MATRIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# What one request may cost with Redis frozen: the cache's connect or read
# timeout (a quarter of a second) once per worker, plus the page itself,
# plus this machine being shared. Before the change it was 50 s, then a 500.
FROZEN_REQUEST_BUDGET = 2.0
RECOVERY_BUDGET = 10.0


@pytest.fixture(scope="module")
def web_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("web-redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web(web_redis, django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        env = web_environment(redis_url=web_redis.url, database=database_url())
    server = WebServer(env, tmp_path_factory.mktemp("web")).start()
    try:
        yield server
    finally:
        server.stop()


def healthy(web: WebServer) -> bool:
    """Every worker says ok: several answers in a row (the kernel hands connections
    to whichever worker accepts first)."""
    return all(Browser(web.port).get("/healthz").json()["status"] == "ok" for _ in range(6))


@pytest.fixture
def redis(web_redis, web):
    """Redis up, empty and seen by every worker when the test starts; back up when it ends."""
    if not web_redis.running:
        web_redis.start()
    web_redis.resume()
    web_redis.flushall()
    wait_until(lambda: healthy(web), RECOVERY_BUDGET, "the web to see Redis")
    yield web_redis
    web_redis.resume()
    if not web_redis.running:
        web_redis.start()


@dataclass
class Space:
    alice: User
    bob: User
    ritual: Ritual
    exercise: Exercise
    occurrence: str
    export: DataExport


@pytest.fixture
def space() -> Space:
    alice = UserFactory(display_name="Alice", time_zone="Europe/Berlin")
    bob = UserFactory(display_name="Bob", time_zone="Europe/Berlin")
    # A hash gunicorn knows (the test run's MD5 is not among production's
    # hashers), with few iterations: the log-in upgrades it once.
    bob.password = PBKDF2PasswordHasher().encode(PASSWORD, "faultsalt", iterations=1000)
    bob.save(update_fields=["password"])
    couple = make_couple(alice, bob, name="Alice & Bob")
    # At midnight in Berlin: today's occurrence has always begun, so it can be marked kept.
    ritual = make_ritual(couple, title="Evening walk", start_time=datetime.time(0, 0))
    occurrence = ritual.schedule.previous_before(timezone.now(), 1)[0]
    exercise = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    return Space(alice, bob, ritual, exercise, occurrence.isoformat(), prepared_export(alice))


def member_pages(space: Space) -> list[tuple[str, int]]:
    """(path, expected status) of every GET route a member uses, from the URLconf
    (the access matrix names every route), fragments and polls included."""
    pages = []
    # The dashboard first: the tests read it from the first reply.
    for name, route in sorted(MATRIX.items(), key=lambda item: (item[0] != "dashboard", item[0])):
        if route.method != "get" or route.member != 200 or route.signed or route.uses_token:
            continue
        if route.uses_ritual:
            path = reverse(name, args=[space.ritual.pk])
        elif route.uses_session:
            path = reverse(name, args=[space.exercise.pk])
        elif route.uses_export:
            path = reverse(name, args=[space.export.token])
        else:
            path = reverse(name)
        if name == "exercise_poll":
            pages.append((f"{path}?v={space.exercise.version}", 204))
        else:
            pages.append((path, 200))
    return pages


def visit_all(browser: Browser, space: Space) -> list:
    replies = []
    for path, expected in member_pages(space):
        reply = browser.get(path)
        assert reply.status == expected, str(reply)
        replies.append(reply)
    return replies


def keep(browser: Browser, space: Space):
    return browser.post(
        f"/rituals/{space.ritual.pk}/keep/",
        {"occurrence": space.occurrence, "note": "by the river", "together": "on"},
    )


def log_in(web: WebServer, email: str) -> Browser:
    browser = Browser(web.port)
    assert browser.get("/accounts/login/").status == 200  # the CSRF cookie
    reply = browser.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert reply.status == 302, str(reply)
    assert reply.headers["Location"] == "/"
    return browser


def sign_up(web: WebServer, email: str) -> Reply:
    browser = Browser(web.port)
    assert browser.get("/accounts/signup/").status == 200
    return browser.post(
        "/accounts/signup/",
        {
            "display_name": "Sam",
            "email": email,
            "password1": "another-kind-passphrase",
            "time_zone": "Europe/Berlin",
        },
    )


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_members_are_served_from_postgresql_while_redis_is_out(fault, web, redis, space):
    alice = Browser(web.port)
    sign_in(alice, space.alice)
    visit_all(alice, space)  # with Redis: the session and the page regions are cached now
    assert "You marked it kept" not in visit_all(alice, space)[0].text

    redis.stop() if fault == "stopped" else redis.pause()

    replies = visit_all(alice, space)
    assert "Evening walk" in replies[0].text
    kept = keep(alice, space)
    assert kept.status == 302, str(kept)  # back to the page it came from
    assert "You marked it kept" in alice.get("/").text  # rendered from the database
    # Asking for her data: the build's trigger can't be published, the page
    # answers at once, and the export waits, owed, for the sweep.
    asked = alice.post(reverse("export_prepare"), {})
    assert asked.status == 302, str(asked)
    assert "Preparing your download" in alice.get(reverse("export")).text
    assert DataExport.objects.get(user=space.alice).build_due_at is not None
    health = Browser(web.port).get("/healthz")
    assert health.status == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["database"] == "ok"

    bob = log_in(web, space.bob.email)
    dashboard = bob.get("/")
    assert dashboard.status == 200
    assert "Alice marked it kept" in dashboard.text
    signed_up = sign_up(web, f"sam-{fault}@example.com")
    assert signed_up.status == 302, str(signed_up)
    assert bob.post("/accounts/logout/").status == 302
    assert bob.get("/rituals/").status == 302  # logged out: sent to the log-in page

    # (Not the sign-up or log-in: hashing a password takes its own second.)
    replies.extend([kept, asked, dashboard])
    slowest = max(replies, key=lambda reply: reply.seconds)
    assert slowest.seconds < FROZEN_REQUEST_BUDGET, slowest

    # Redis comes back (a stopped one empty, a frozen one as it was): no restart.
    back = time.monotonic()
    redis.start() if fault == "stopped" else redis.resume()
    wait_until(lambda: healthy(web), RECOVERY_BUDGET, "the web to see Redis again")
    print(f"recovered {time.monotonic() - back:.2f} s after Redis came back")
    dashboard = alice.get("/")
    assert dashboard.status == 200
    assert "You marked it kept" in dashboard.text


def test_a_frozen_redis_ties_up_no_worker(web, redis, space):
    """More requests at once than gunicorn has threads: each still ends in bounded time."""
    browsers = []
    for _ in range(16):
        browser = Browser(web.port)
        sign_in(browser, space.alice)
        browsers.append(browser)
    redis.pause()
    started = time.monotonic()
    with ThreadPoolExecutor(len(browsers)) as pool:
        replies = list(pool.map(lambda browser: browser.get("/"), browsers))
    elapsed = time.monotonic() - started
    assert [reply.status for reply in replies] == [200] * len(browsers)
    slowest = max(replies, key=lambda reply: reply.seconds)
    print(f"16 dashboards at once with Redis frozen: {elapsed:.2f} s, slowest {slowest}")
    assert slowest.seconds < 2 * FROZEN_REQUEST_BUDGET, slowest


# --- in this process: what each page keeps in Redis, and what it must not get back ---------
#
# The test client against a private Redis configured as production's
# (config.cache.redis_caches): deterministic about which process skipped a
# write and when Redis answers again.


@pytest.fixture
def caches_on(private_redis, settings):
    settings.CACHES = redis_caches(private_redis.url)
    yield private_redis
    private_redis.resume()
    forget_outages()


# A frozen Redis still has its data when it thaws; so does one restarted from
# its snapshot (persistence on, unlike docker-compose.yml's). Either way a copy
# that a skipped write should have replaced is still there.
WITH_ITS_DATA = ["frozen", "restarted with its data"]


def take_out(redis: PrivateRedis, fault: str) -> None:
    if fault == "frozen":
        redis.pause()
    else:
        redis.snapshot()
        redis.stop()


def bring_back(redis: PrivateRedis, fault: str) -> None:
    if fault == "frozen":
        redis.resume()
    else:
        redis.start()
    redis_answers_again()


def redis_answers_again() -> None:
    """Wait until this process uses Redis again (its watcher has deleted what was skipped)."""
    wait_until(lambda: reachable(caches["copies"]), 5, "this process to use Redis again")


@pytest.fixture
def walk(couple):
    return make_ritual(couple, title="Evening walk", start_time=datetime.time(0, 0))


def todays_walk(ritual) -> str:
    return ritual.schedule.previous_before(timezone.now(), 1)[0].isoformat()


def dashboard(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("fault", WITH_ITS_DATA)
def test_a_session_ended_while_redis_is_out_stays_ended_when_it_is_back(
    fault, caches_on, couple, alice
):
    phone = logged_in(alice)
    assert phone.get("/rituals/").status_code == 200  # the session's copy is in Redis now
    stolen = phone.cookies[settings.SESSION_COOKIE_NAME].value
    take_out(caches_on, fault)
    assert phone.post("/accounts/logout/").status_code == 302
    bring_back(caches_on, fault)  # with the copy of the session that ended
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert thief.get("/rituals/").status_code == 302  # to the log-in page
    assert not Session.objects.filter(session_key=stolen).exists()


@pytest.mark.parametrize("fault", WITH_ITS_DATA)
def test_a_password_changed_while_redis_is_out_ends_the_other_sessions(
    fault, caches_on, couple, alice
):
    laptop, phone = logged_in(alice), logged_in(alice)
    assert laptop.get("/rituals/").status_code == phone.get("/rituals/").status_code == 200
    take_out(caches_on, fault)
    new = "a-new-and-longer-passphrase"
    changed = laptop.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )
    assert changed.status_code == 302
    assert laptop.get("/rituals/").status_code == 200
    assert phone.get("/rituals/").status_code == 302
    bring_back(caches_on, fault)
    assert laptop.get("/rituals/").status_code == 200
    assert phone.get("/rituals/").status_code == 302


@pytest.mark.parametrize("fault", WITH_ITS_DATA)
def test_a_change_made_while_redis_is_out_shows_once_it_is_back(
    fault, caches_on, walk, alice_client, bob_client
):
    assert "Bob marked it kept" not in dashboard(alice_client)  # cached in Redis now
    take_out(caches_on, fault)
    kept = bob_client.post(
        f"/rituals/{walk.pk}/keep/", {"occurrence": todays_walk(walk), "together": "on"}
    )
    assert kept.status_code == 302  # neither bump of the version reached Redis
    assert "Bob marked it kept" in dashboard(alice_client)  # rendered, not cached
    bring_back(caches_on, fault)
    assert "Bob marked it kept" in dashboard(alice_client)  # not the copy from before


def test_a_region_read_during_the_write_is_not_served_when_the_after_commit_bump_is_skipped(
    caches_on, walk, bob, alice_client
):
    """The after-commit bump exists for a reader that takes the new version while the write
    is in flight and files the rows as they were under it; Redis goes out before the commit.

    (Restarted, not frozen: the bump is the first command to fail, and a frozen
    Redis would still run it from its socket on thawing.)"""
    fault = "restarted with its data"
    dashboard(alice_client)
    seen = {}

    def reader() -> None:
        try:
            seen["page"] = dashboard(alice_client)
        finally:
            connection.close()

    with transaction.atomic():
        walk.mark_kept(
            datetime.datetime.fromisoformat(todays_walk(walk)), bob, "", together=True
        )  # the first bump reaches Redis
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join()
        assert "Bob marked it kept" not in seen["page"]  # filed under the new version
        take_out(caches_on, fault)
    # Committed; the second bump could not reach Redis.
    bring_back(caches_on, fault)
    assert "Bob marked it kept" in dashboard(alice_client)


def test_log_ins_are_limited_per_process_while_redis_is_out(caches_on, alice, settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "10/m/ip,3/300s/key",
    }
    caches_on.stop()

    def log_in(password: str):
        client = Client()
        response = client.post("/accounts/login/", {"login": alice.email, "password": password})
        return client, response

    for _ in range(3):
        client, response = log_in("not-the-password")
        assert response.status_code == 200
        assert TOO_MANY_LOGINS not in response.content.decode()
    client, response = log_in(PASSWORD)
    assert TOO_MANY_LOGINS in response.content.decode()  # counted in this process's memory
    assert "_auth_user_id" not in client.session
    caches_on.start()  # empty: the limit starts again, in Redis
    redis_answers_again()
    client, response = log_in(PASSWORD)
    assert response.status_code == 302
    assert client.get("/rituals/").status_code in (200, 302)


def test_code_guesses_are_limited_per_process_while_redis_is_out(caches_on, settings):
    limits = {"account": (3, 600), "address": (60, 600)}
    settings.TEND_RATE_LIMITS = {**settings.TEND_RATE_LIMITS, "invite_code": limits}
    inviter = UserFactory()
    _, _, code = services.issue_invitation(make_couple(inviter), inviter)
    caches_on.stop()
    guesser = logged_in(UserFactory())
    for n in range(3):
        assert guesser.post("/join/", {"code": wrong_code(n)}).status_code == 422
    response = guesser.post("/join/", {"code": code})
    assert response.status_code == 429  # counted in this process's memory
    assert TOO_MANY_CODES in response.content.decode()


def test_health_says_degraded_without_redis_and_error_without_the_database(caches_on, client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "cache": "ok"}
    caches_on.stop()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "error: ConnectionError",
    }
    with database_out():
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["database"].startswith("error: ")
    caches_on.start()
    redis_answers_again()
    assert client.get("/healthz").json()["status"] == "ok"


@contextmanager
def database_out():
    """This process's database connection points at nothing while inside."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict["PORT"] = free_port()  # nothing listens there
    else:
        connection.settings_dict["NAME"] = "/nonexistent/tend.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


# --- the web's one publish to the broker ----------------------------------------------------

PUBLISH = """
import json, time
from config.celery import app
started = time.monotonic()
try:
    app.send_task("couples.tasks.send_invitation_email", args=[0, "token", "CODE"])
    outcome = "queued"
except Exception as error:
    outcome = type(error).__name__
print("PUBLISH " + json.dumps({"outcome": outcome, "seconds": time.monotonic() - started}))
"""


def publish_from_a_web_process(redis: PrivateRedis, *, after_a_page: bool = False) -> dict:
    """What ``delay()`` does in a web process with the real settings: queued, or which error,
    and how long it took."""
    env = web_environment(redis_url=redis.url, database=database_url())
    # As every page does first, the cache may have found out about Redis already.
    script = "from django.core.cache import cache; cache.get('x')\n" if after_a_page else ""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script + PUBLISH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("PUBLISH ")), None)
    assert line, result.stdout + result.stderr
    return json.loads(line.removeprefix("PUBLISH "))


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_a_publish_from_the_web_gives_up_within_a_second(fault, private_redis):
    assert publish_from_a_web_process(private_redis)["outcome"] == "queued"
    assert private_redis.queued("celery") == 1
    private_redis.stop() if fault == "stopped" else private_redis.pause()
    published = publish_from_a_web_process(private_redis)
    print(f"publish with Redis {fault}: {published}")
    assert published["outcome"] == "OperationalError"
    assert published["seconds"] < FROZEN_REQUEST_BUDGET, published


def test_a_publish_after_the_cache_found_redis_frozen_does_not_wait_again(private_redis):
    private_redis.pause()
    published = publish_from_a_web_process(private_redis, after_a_page=True)
    print(f"publish after the cache found Redis frozen: {published}")
    assert published["outcome"] == "OperationalError"
    assert published["seconds"] < 0.2, published  # one wait would be 0.25 s
