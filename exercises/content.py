"""Question decks and guides, kept as data in content/*.toml with stable keys."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent / "content"


@cache
def load(name: str) -> dict:
    with (CONTENT_DIR / f"{name}.toml").open("rb") as handle:
        return tomllib.load(handle)


def by_key(name: str, table: str) -> dict[str, dict]:
    """The entries of an array of tables (e.g. ``[[question]]``) by their key."""
    return {item["key"]: item for item in load(name)[table]}


def guide(kind: str) -> dict:
    """The guide of a page done in your own time (guides.toml), or a live exercise's content.

    Each live exercise keeps its guide in its own file, exercises/content/<kind>.toml.
    """
    guides = load("guides")
    if kind in guides:
        return guides[kind]
    return load(kind) if (CONTENT_DIR / f"{kind}.toml").is_file() else {}
