"""Ritual templates, kept as data in content/catalog.toml with stable keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time
from functools import cache
from pathlib import Path

CATALOG_FILE = Path(__file__).resolve().parent / "content" / "catalog.toml"


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    why: str
    how_to: str
    prompt: str
    duration_minutes: int
    rrule: str
    time: time
    reminder_lead_minutes: int
    category: str


@cache
def templates() -> dict[str, Template]:
    with CATALOG_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    found: dict[str, Template] = {}
    for entry in data["ritual"]:
        hour, minute = (int(part) for part in entry["time"].split(":"))
        found[entry["key"]] = Template(
            key=entry["key"],
            title=entry["title"],
            why=entry["why"],
            how_to=entry["how_to"].strip(),
            prompt=entry["prompt"],
            duration_minutes=entry["duration_minutes"],
            rrule=entry["rrule"],
            time=time(hour, minute),
            reminder_lead_minutes=entry["reminder_lead_minutes"],
            category=entry["category"],
        )
    return found


def get(key: str) -> Template | None:
    return templates().get(key)
