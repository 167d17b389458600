"""Plain text as it is safe to store: what people type, without what databases refuse."""

from __future__ import annotations

import re

# Control characters other than tab and newlines; PostgreSQL refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: object, limit: int) -> str:
    return _CONTROL.sub("", str(value)).strip()[:limit]
