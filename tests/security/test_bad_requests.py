"""A form body in an encoding Tend can't read gets a clear 400, never a 500.

Django refuses urlencoded bodies declared in another charset than UTF-8 but
leaves them unparsed, so every later reader of ``request.POST`` (the CSRF
check of Django's own 400 handler, the debug page) raised again and the 400
became a 500 (``config.middleware.UnreadableBodyMiddleware``).
"""

from __future__ import annotations

import http.client
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from couples import services
from couples.models import Invitation

UNREADABLE = "in a text encoding Tend can&#x27;t read"
LATIN_1_FORM = "application/x-www-form-urlencoded; charset=latin-1"


def browser(user=None) -> Client:
    """A client that checks CSRF as a real browser session would, and shows
    a request that escapes every handler as the 500 a server would send."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    client.get(reverse("dashboard"))  # sets the CSRF cookie
    return client


def post_raw(client: Client, path: str, body: bytes, content_type: str, **extra):
    """POST ``body`` exactly as given: the test client would otherwise re-encode
    bytes into the declared charset itself."""
    try:
        return client.post(
            path,
            data=body,
            content_type="application/octet-stream",
            CONTENT_TYPE=content_type,
            **extra,
        )
    except Exception as error:  # what a WSGI server turns into a 500
        pytest.fail(f"the request escaped every handler: {error!r}")


@pytest.mark.parametrize("charset", ["latin-1", "iso-8859-1", "utf-16", "windows-1252", "utf8"])
def test_a_login_form_in_another_charset_gets_a_clear_400(db, charset):
    client = browser()
    response = post_raw(
        client,
        reverse("account_login"),
        b"login=%ff&password=x",
        f"application/x-www-form-urlencoded; charset={charset}",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 400
    assert UNREADABLE in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_request_from_the_report_gets_a_400(db):
    """Anonymous, ``login=%ff`` in latin-1 and nothing else, from a browser that
    has the CSRF cookie of an earlier visit: as reported."""
    response = post_raw(browser(), "/accounts/login/", b"login=%ff", LATIN_1_FORM)
    assert response.status_code == 400
    assert UNREADABLE in response.content.decode()


def test_a_member_posting_in_another_charset_changes_nothing(alice):
    services.create_space(alice)
    client = browser(alice)
    response = post_raw(
        client,
        reverse("invite"),
        b"email=bob%40example.com",
        LATIN_1_FORM,
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 400
    assert UNREADABLE in response.content.decode()
    assert "Log out" in response.content.decode()  # the page knows who is asking
    assert not Invitation.objects.exists()
    # The same form in UTF-8 works.
    response = post_raw(
        client,
        reverse("invite"),
        b"email=bob%40example.com",
        "application/x-www-form-urlencoded; charset=utf-8",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 302
    assert Invitation.objects.get().email == "bob@example.com"


def test_the_400_handler_works_on_its_own_for_an_unreadable_body(db, settings):
    """Without the middleware, the body fails in the CSRF check: the 400 handler
    must answer without reading it again, as Django's own handler did."""
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "config.middleware.UnreadableBodyMiddleware"
    ]
    client = browser()
    response = post_raw(
        client,
        reverse("account_login"),
        b"login=%ff",
        LATIN_1_FORM,
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 400
    assert "We couldn't read that request" in response.content.decode()


def test_the_400_handler_renders_for_a_host_we_dont_serve(db):
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "We couldn't read that request" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_real_server_answers_400_not_500(live_server):
    """The same request over a socket, with the cookie and token a browser sends."""
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("GET", "/accounts/login/")
    first = connection.getresponse()
    first.read()
    cookie = SimpleCookie(first.headers["Set-Cookie"])["csrftoken"].value
    body = f"csrfmiddlewaretoken={cookie}&login=%ff&password=x".encode()
    headers = {"Content-Type": LATIN_1_FORM, "Cookie": f"csrftoken={cookie}"}
    connection.request("POST", "/accounts/login/", body=body, headers=headers)
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    assert response.status == 400
    assert UNREADABLE in page
