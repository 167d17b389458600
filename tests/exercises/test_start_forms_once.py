"""The exercises page's start forms are rendered once per process (``{% start_forms %}``).

What is kept must be what every viewer would get, except the CSRF token,
which must be each viewer's own and must work.
"""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from exercises.models import Session

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NONCE = re.compile(r'nonce="[^"]+"')  # the CSP nonce, per response
HEADER = re.compile(r'"X-CSRFToken": "[^"]+"')  # the page's htmx header, per response


def same_for_everyone(html: str) -> str:
    return HEADER.sub("", NONCE.sub("", TOKEN.sub("", html)))


def test_the_kept_forms_are_the_freshly_rendered_ones(couple, alice, settings):
    client = Client()
    client.force_login(alice)
    client.get(reverse("exercises"))  # kept now, if not before
    kept = client.get(reverse("exercises")).content.decode()
    settings.DEBUG = True  # rendered afresh
    fresh = client.get(reverse("exercises")).content.decode()
    assert same_for_everyone(kept) == same_for_everyone(fresh)
    assert kept.count('action="/exercises/start/') >= 5


def test_each_viewer_gets_their_own_working_token(couple, alice, bob):
    pages = {}
    for person in (alice, bob):
        client = Client(enforce_csrf_checks=True)
        client.force_login(person)
        html = client.get(reverse("exercises")).content.decode()
        tokens = set(TOKEN.findall(html))
        assert len(tokens) == 1 and "placeholder" not in html
        pages[person] = (client, tokens.pop())
    assert pages[alice][1] != pages[bob][1]
    client, token = pages[bob]
    response = client.post(
        reverse("exercise_start", args=["love_maps"]),
        {"love_maps-mode": "two_devices", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert Session.objects.filter(couple=couple, status=Session.Status.ACTIVE).exists()


def test_a_form_posted_with_errors_is_shown_with_them(couple, alice):
    client = Client()
    client.force_login(alice)
    client.get(reverse("exercises"))
    response = client.post(reverse("exercise_start", args=["eye_gazing"]), {})
    assert response.status_code == 422
    assert 'class="errors"' in response.content.decode()
