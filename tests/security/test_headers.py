"""Security headers on every page, no inline script in any, HSTS in production."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

from tests.conftest import ROOT, logged_in
from tests.exports import download_export
from tests.factories import UserFactory
from tests.test_access_matrix import MATRIX, url_for

GET_ROUTES = sorted(name for name, route in MATRIX.items() if route.method == "get")
ALLAUTH_PAGES = {
    "account_login": None,
    "account_signup": None,
    "account_reset_password": None,
    "account_email": "alice",
    "account_change_password": "alice",
    "account_logout": "alice",
}
ONE_YEAR = 31536000


def directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_security_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy")
    assert csp, f"{where} has no Content-Security-Policy"
    policy = directives(csp)
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src, where
    assert "'unsafe-inline'" not in script_src, where
    assert "'unsafe-eval'" not in script_src, where
    assert policy["frame-ancestors"] == ["'none'"], where
    assert policy["object-src"] == ["'none'"], where
    assert policy["base-uri"] == ["'none'"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where
    assert response.headers.get("X-Frame-Options") == "DENY", where


class InlineCode(HTMLParser):
    """Finds script without src, event-handler attributes and javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("<script> without src")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            linked = name in ("href", "src", "action", "formaction") and value
            if linked and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def assert_no_inline_code(response, where: str) -> None:
    if "text/html" not in response.headers.get("Content-Type", ""):
        return
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert not parser.found, f"{where}: {parser.found}"


@pytest.mark.parametrize("name", GET_ROUTES)
def test_every_page_carries_the_security_headers(alice, pair_space, name):
    route = MATRIX[name]
    response = logged_in(alice).get(url_for(name, route, pair_space))
    assert response.status_code == route.member
    assert_security_headers(response, name)
    assert_no_inline_code(response, name)


@pytest.mark.parametrize("name", sorted(ALLAUTH_PAGES))
def test_allauth_pages_carry_the_security_headers(alice, name):
    user = ALLAUTH_PAGES[name]
    client = logged_in(alice) if user else Client()
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert_security_headers(response, name)
    assert_no_inline_code(response, name)


def test_htmx_fragments_and_errors_carry_the_headers_too(alice, pair_space):
    client = logged_in(alice)
    responses = {
        "poll": client.get(
            reverse("exercise_poll", args=[pair_space["session"].pk]), HTTP_HX_REQUEST="true"
        ),
        "404": client.get("/no/such/page/"),
        "405": client.put(reverse("rituals")),
        "422": client.post(reverse("ritual_new"), {}),
    }
    for name, response in responses.items():
        assert_security_headers(response, name)
        assert_no_inline_code(response, name)


def test_the_nonce_changes_with_every_response(alice):
    client = logged_in(alice)
    first = directives(client.get("/").headers["Content-Security-Policy"])["script-src"]
    second = directives(client.get("/").headers["Content-Security-Policy"])["script-src"]
    nonces = [next(w for w in src if w.startswith("'nonce-")) for src in (first, second)]
    assert nonces[0] != nonces[1]


def test_private_downloads_are_not_cached_or_sniffed(alice, pair_space):
    response = download_export(logged_in(alice))
    assert response.headers["Content-Type"].startswith("application/json")
    assert cache_directives(response) == {"private", "no-store"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")


# ---------- no copy of any page in a browser's or a proxy's cache ----------


def cache_directives(response) -> set[str]:
    header = response.headers.get("Cache-Control", "")
    return {part.split("=")[0].strip().lower() for part in header.split(",") if part.strip()}


def assert_not_stored(response, where: str) -> None:
    """After logging out on a shared computer, Back must not show the page again."""
    directives = cache_directives(response)
    shown = response.headers.get("Cache-Control")
    assert {"private", "no-store"} <= directives, f"{where}: Cache-Control {shown!r}"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_no_page_of_a_member_may_be_stored(alice, pair_space, name):
    route = MATRIX[name]
    response = getattr(logged_in(alice), route.method)(url_for(name, route, pair_space))
    assert response.status_code == route.member
    assert_not_stored(response, name)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_no_page_reached_without_logging_in_may_be_stored(pair_space, name):
    """Signed links (calendar, done, pause, unsubscribe) and invitation links
    show couple data without a log-in; the rest redirect to it."""
    route = MATRIX[name]
    response = getattr(Client(), route.method)(url_for(name, route, pair_space))
    assert response.status_code == (302 if route.anonymous == "login" else route.anonymous)
    assert_not_stored(response, name)


def test_fragments_errors_and_account_pages_may_not_be_stored(alice, pair_space):
    client = logged_in(alice)
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(alice)
    responses = {
        "poll": client.get(
            reverse("exercise_poll", args=[pair_space["session"].pk]), HTTP_HX_REQUEST="true"
        ),
        "404": client.get("/no/such/page/"),
        "405": client.put(reverse("rituals")),
        "422": client.post(reverse("ritual_new"), {}),
        "403": csrf_checked.post(reverse("ritual_new"), {}),
        "400": client.post(
            reverse("ritual_new"),
            b"title=x",
            content_type="application/octet-stream",
            CONTENT_TYPE="application/x-www-form-urlencoded; charset=latin-1",
        ),
        **{name: client.get(reverse(name)) for name in ALLAUTH_PAGES if ALLAUTH_PAGES[name]},
        **{name: Client().get(reverse(name)) for name in ALLAUTH_PAGES if not ALLAUTH_PAGES[name]},
    }
    assert responses["403"].status_code == 403 and responses["400"].status_code == 400
    for name, response in responses.items():
        assert_not_stored(response, name)


def every_path(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URLconf (ours, allauth's, the admin's), each parameter
    filled with "1": a page, a redirect or a 404, all on their way out."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = str(entry.pattern)
        if isinstance(entry.pattern, RegexPattern):
            route = route.removeprefix("^").removesuffix("$").removesuffix("\\Z")
            route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
        else:
            route = re.sub(r"<[^>]+>", "1", route)
        if isinstance(entry, URLResolver):
            found += every_path(entry.url_patterns, prefix + route)
        else:
            found.append("/" + prefix + route)
    return sorted(set(found))


def test_every_route_of_the_urlconf_says_private_no_store(alice, pair_space):
    """For a member, and for staff in the admin (which shows everyone's data)."""
    member = logged_in(alice)
    staff = logged_in(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    paths = every_path()
    assert len(paths) > 80 and "/admin/" in paths and "/accounts/login/" in paths
    statuses = set()
    for path in paths:
        for client in (member, staff) if path.startswith("/admin/") else (member,):
            response = client.get(path)
            statuses.add(response.status_code)
            assert response.status_code < 500, path
            assert_not_stored(response, path)
    assert {200, 302, 404} <= statuses


def test_static_files_stay_cacheable(client):
    """Whitenoise answers them before the middleware: no reason to fetch them again."""
    response = client.get("/static/css/tend.css")
    assert response.status_code == 200
    assert "no-store" not in cache_directives(response)


# ---------- production: HSTS over HTTPS ----------

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "testserver",
    "SITE_URL": "https://testserver",
    "SMTP_HOST": "localhost",
}
# collectstatic runs in the image build (Dockerfile); here the pages render
# with plain static storage, which changes nothing about the headers.
PRODUCTION_PROBE = """
import json
from django.test import Client, override_settings
storages = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
out = {}
with override_settings(STORAGES=storages):
    client = Client(raise_request_exception=False)
    for path in ("/healthz", "/accounts/login/"):
        https = client.get(path, secure=True)
        http = client.get(path)
        out[path] = {
            "status": https.status_code,
            "hsts": https.headers.get("Strict-Transport-Security", ""),
            "http_status": http.status_code,
            "http_location": http.headers.get("Location", ""),
            "http_hsts": http.headers.get("Strict-Transport-Security", ""),
            "secure_cookies": {k: bool(v["secure"]) for k, v in https.cookies.items()},
        }
print("PROBE " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def production_probe() -> dict:
    drop = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME"}
    env = {k: v for k, v in os.environ.items() if k not in drop} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, result.stdout + result.stderr
    return json.loads(line.removeprefix("PROBE "))


@pytest.mark.parametrize("path", ["/healthz", "/accounts/login/"])
def test_production_sends_hsts_for_a_year_over_https(production_probe, path):
    probe = production_probe[path]
    assert probe["status"] == 200
    parts = [part.strip() for part in probe["hsts"].split(";")]
    max_age = next(int(part.removeprefix("max-age=")) for part in parts if "max-age" in part)
    assert max_age >= ONE_YEAR
    assert "includeSubDomains" in parts
    # No HSTS over plain HTTP (RFC 6797 §7.2): the page redirects to HTTPS instead.
    assert probe["http_hsts"] == ""


def test_production_redirects_plain_http_except_the_health_check(production_probe):
    assert production_probe["/healthz"]["http_status"] == 200
    login = production_probe["/accounts/login/"]
    assert login["http_status"] == 301
    assert login["http_location"] == "https://testserver/accounts/login/"


def test_production_cookies_are_secure(production_probe):
    cookies = production_probe["/accounts/login/"]["secure_cookies"]
    assert cookies, "the login page sets its CSRF cookie"
    assert all(cookies.values()), cookies
