"""Production settings, security headers and CSRF."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a" * 20 + "-production-secret-for-the-deploy-check-" + "z" * 20,
    "ALLOWED_HOSTS": "tend.example",
    "SITE_URL": "https://tend.example",
    "SMTP_HOST": "localhost",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    skip = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in skip}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "SMTP_HOST"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_a_malformed_boolean_fails_loudly():
    result = manage("check", env={**PRODUCTION_ENV, "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_pages_carry_a_strict_content_security_policy(client, db):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'nonce-" in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_no_inline_scripts_or_event_handlers_in_pages(alice_client):
    for url in ("/", reverse("profile"), reverse("join")):
        page = alice_client.get(url).content.decode()
        assert "<script>" not in page
        assert " onclick=" not in page and " onload=" not in page
        for tag in page.split("<script")[1:]:
            assert 'src="' in tag.split(">")[0]


def test_state_changes_without_a_csrf_token_are_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("create_space"), {"name": "x"})
    assert response.status_code == 403
    response = client.post(reverse("invite"), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403


def test_htmx_posts_carry_the_csrf_token_from_the_body(alice_client):
    page = alice_client.get("/").content.decode()
    assert 'hx-headers:inherited=\'{"X-CSRFToken": "' in page


def test_the_health_endpoint_checks_database_and_cache(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_a_plain_http_try_out_is_allowed_only_without_https_redirects():
    env = {**PRODUCTION_ENV, "SITE_URL": "http://localhost:8000"}
    assert manage("check", env=env).returncode != 0
    assert manage("check", env={**env, "SECURE_SSL_REDIRECT": "false"}).returncode == 0


@pytest.mark.parametrize(
    ("url", "flag", "expected"),
    [
        ("postgres://tend@db.example:5432/tend", None, "True 2"),
        ("postgres://tend@db.example:5432/tend", "false", "None None"),
        ("sqlite:////tmp/tend.sqlite3", None, "None None"),  # SQLite has no such option
    ],
)
def test_postgresql_prepares_statements_unless_told_not_to(url, flag, expected):
    env = {**PRODUCTION_ENV, "DATABASE_URL": url}
    if flag is not None:
        env["DB_SERVER_SIDE_BINDING"] = flag
    show = (
        "from django.conf import settings; o = settings.DATABASES['default'].get('OPTIONS', {});"
        " print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    result = manage("shell", "--verbosity", "0", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()
