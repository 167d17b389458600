"""Who is logged in, read straight from the session, for the hottest requests.

Django's ``get_user`` loads the user row first; the live polls and marking
a ritual kept instead check, in the one query they need anyway, that the
session's user is an active member of the right space, and fetch the
password hash in that same row to verify the session-auth hash as
``get_user`` would (so a password change still ends other sessions).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


def session_user_id(request: HttpRequest) -> str | None:
    """The id of the user this session was logged in as, unverified."""
    return request.session.get(SESSION_KEY)


def session_hash_matches(request: HttpRequest, password: str) -> bool:
    """The session's auth hash matches the password, under the key or a fallback."""
    given = request.session.get(HASH_SESSION_KEY, "")
    return any(
        constant_time_compare(
            given, salted_hmac(_HASH_SALT, password, secret=key, algorithm="sha256").hexdigest()
        )
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )
