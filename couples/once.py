"""Create forms that act once: a double click or a retried request makes one row.

Every create form carries a random ``request_key`` (``{% once_field %}``),
drawn when the form is first shown and kept when it comes back with errors.
The row it creates stores the key under a unique constraint (per space), so
the database, not a check in Python, decides: of twenty identical posts
arriving together, one inserts and the others find its row and answer as if
they had made it. A form posted without a key (an old page, a script) is
simply not deduplicated.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

FIELD = "request_key"
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def new_key() -> str:
    return secrets.token_urlsafe(16)


def posted_key(request: HttpRequest) -> str:
    """The key the form was posted with, or "" when it has none worth trusting."""
    key = request.POST.get(FIELD, "")
    return key if _SHAPE.match(key) else ""


def create_once[Row: models.Model](
    queryset: models.QuerySet[Row], key: str, create: Callable[[], Row]
) -> tuple[Row, bool]:
    """``create()`` the row, unless one with ``key`` exists in ``queryset``: (row, created).

    ``create`` must save a row with ``request_key=key`` that the unique
    constraint covers, and nothing it does may outlive a lost race (it runs in
    a savepoint that a conflict rolls back).
    """
    if not key:
        return create(), True
    existing = queryset.filter(request_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        existing = queryset.filter(request_key=key).first()
        if existing is None:
            raise
        return existing, False
