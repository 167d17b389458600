"""Signed links in reminder emails: they work without logging in, for one person."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

DONE_SALT = "rituals.done"
MUTE_SALT = "rituals.mute"
UNSUBSCRIBE_SALT = "rituals.unsubscribe"
LINK_LIFETIME = timedelta(days=14)


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


def done_token(delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=DONE_SALT, compress=True)


def mute_token(ritual_id: int, user_id: int) -> str:
    return signing.dumps([ritual_id, user_id], salt=MUTE_SALT, compress=True)


def unsubscribe_token(user_id: int) -> str:
    # No expiry: an unsubscribe link from an old email must still work.
    return signing.dumps(user_id, salt=UNSUBSCRIBE_SALT, compress=True)


def read_done(token: str) -> int:
    return signing.loads(token, salt=DONE_SALT, max_age=LINK_LIFETIME)


def read_mute(token: str) -> tuple[int, int]:
    ritual_id, user_id = signing.loads(token, salt=MUTE_SALT, max_age=LINK_LIFETIME)
    return ritual_id, user_id


def read_unsubscribe(token: str) -> int:
    return signing.loads(token, salt=UNSUBSCRIBE_SALT)


def done_url(delivery_id: int) -> str:
    return _absolute(reverse("ritual_done_link", args=[done_token(delivery_id)]))


def mute_url(ritual_id: int, user_id: int) -> str:
    return _absolute(reverse("ritual_mute_link", args=[mute_token(ritual_id, user_id)]))


def unsubscribe_url(user_id: int) -> str:
    return _absolute(reverse("unsubscribe", args=[unsubscribe_token(user_id)]))
