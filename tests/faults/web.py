"""The web side under faults: gunicorn in its own process, and a small browser to drive it.

- ``WebServer``: ``gunicorn config.wsgi`` (gthread workers) on a free loopback
  port, against the test database and whatever Redis it is given, so that
  Redis can be stopped or frozen under real worker processes.
- ``Browser``: one person's cookies, CSRF token included, over plain
  ``http.client`` (a request per connection, no redirects followed), timing
  every request.
- ``sign_in``: a session for a user written straight into the session table,
  as a log-in would, so tests don't pay for password hashing.

``benchmarks/faults.py`` uses these for its web scenario.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from tests.mailsink import free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def web_environment(*, redis_url: str, database: str) -> dict[str, str]:
    """What a web process reads: this test's database and Redis, nothing else of the caller's.

    ``DEBUG`` is on so pages render with plain static files (no collectstatic
    in a test); it changes nothing about the cache, sessions or the broker.
    The secret key is the test process's own, so sessions written here are
    read there.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "CELERY_", "SMTP_", "DATABASE_", "TEST_DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


class WebServer:
    """gunicorn with ``workers`` processes of ``threads`` threads, logging to a file."""

    def __init__(self, env: dict[str, str], logdir: Path, *, workers=2, threads=4) -> None:
        self.env = env
        self.port = free_port()
        self.log = logdir / f"gunicorn-{self.port}.log"
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen | None = None

    program = "gunicorn"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", "config.wsgi", "--no-control-socket"),
            *("--bind", f"{HOST}:{self.port}", "--worker-class", "gthread"),
            *("--workers", str(self.workers), "--threads", str(self.threads)),
            *("--timeout", "60", "--graceful-timeout", "5"),
        ]

    def start(self, timeout: float = 60):
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.program} exited:\n{self.tail()}")
            try:
                Browser(self.port).get("/healthz", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"{self.program} did not answer:\n{self.tail()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Reply:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    text: str
    seconds: float

    def json(self):
        import json

        return json.loads(self.text)

    def __str__(self) -> str:
        line = f"{self.method} {self.path} -> {self.status} in {self.seconds * 1000:.0f} ms"
        if self.status >= 500:
            # Django's debug page names the exception in its title.
            found = re.search(r"<title>(.*?)</title>", self.text, re.S)
            line += ": " + (found.group(1).strip() if found else self.text[:300])
        return line


@dataclass
class Browser:
    """One person's cookies against one server. Not thread-safe: one per thread."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        timeout: float = 30,
    ) -> Reply:
        sent = {"Host": HOST, "Connection": "close", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            token = self.cookies.get(settings.CSRF_COOKIE_NAME, "")
            body = urlencode({"csrfmiddlewaretoken": token, **(data or {})}).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["X-CSRFToken"] = token
        started = time.monotonic()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        seconds = time.monotonic() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(method, path, response.status, dict(response.headers), text, seconds)

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Reply:
        return self.request("POST", path, data, **kwargs)


def sign_in(browser: Browser, user) -> str:
    """Log ``user`` in on ``browser`` with a session written to the database only
    (as if Redis had lost its copy). Returns the session key."""
    store = DatabaseSessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    browser.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return store.session_key
