"""The time zones a person picks from: canonical IANA names, grouped by region.

The source of truth is the tz database's own tables, read from the ``tzdata``
package (a dependency, so the same on every machine) or else from the
system's zoneinfo folder:

- ``zone.tab`` lists one zone per country and area, under the names people
  know (Europe/Oslo, America/Los_Angeles). It leaves out the backward-
  compatible aliases (US/Pacific, GB-Eire, Zulu) and the fixed offsets
  (Etc/GMT+5) that a plain ``available_timezones()`` also returns.
- ``iso3166.tab`` gives each country's name, so "Germany" finds Berlin.
- ``tzdata.zi``'s link lines (``L Europe/London GB-Eire``) say which zone an
  alias stands for: someone whose stored zone is an alias keeps their time,
  shown and saved under its canonical name.

No Django imports: ``config.settings`` reads this.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

UTC = "UTC"
# Regions in the order a list shows them, with the names people say.
REGIONS = {
    "Africa": "Africa",
    "America": "Americas",
    "Antarctica": "Antarctica",
    "Arctic": "Arctic",
    "Asia": "Asia",
    "Atlantic": "Atlantic Ocean",
    "Australia": "Australia",
    "Europe": "Europe",
    "Indian": "Indian Ocean",
    "Pacific": "Pacific",
}
# Zero-offset names all mean UTC; the old North American rule names follow
# the cities whose rules they copied (they became links to them in 2024b).
SAME_AS = {
    "Etc/UTC": UTC,
    "Etc/UCT": UTC,
    "Etc/Universal": UTC,
    "Etc/Zulu": UTC,
    "Etc/GMT": UTC,
    "Etc/GMT0": UTC,
    "Etc/GMT+0": UTC,
    "Etc/GMT-0": UTC,
    "Etc/Greenwich": UTC,
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
}


@dataclass(frozen=True)
class Zone:
    name: str  # the IANA name, e.g. "America/Argentina/Buenos_Aires"
    region: str  # "America"
    city: str  # "Buenos Aires"
    country: str  # "Argentina"
    note: str = ""  # which part of a country with several zones

    @property
    def label(self) -> str:
        where = f"{self.country}, {self.note}" if self.note else self.country
        return f"{self.city} · {where}" if where else self.city


def _read(name: str) -> str | None:
    """A file of the tz database: the tzdata package's copy, else the system's."""
    try:
        return resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def _rows(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def zones() -> tuple[Zone, ...]:
    """Every zone a person can pick, UTC first, then by region and city."""
    countries = {row[0]: row[1] for row in _rows(_read("iso3166.tab")) if len(row) > 1}
    per_country: dict[str, int] = {}
    table = [row for row in _rows(_read("zone.tab")) if len(row) >= 3]
    for row in table:
        per_country[row[0]] = per_country.get(row[0], 0) + 1
    found = []
    for row in table:
        code, name = row[0], row[2]
        region, _, place = name.partition("/")
        if region not in REGIONS:
            continue
        city = place.rsplit("/", 1)[-1].replace("_", " ")
        note = row[3].strip() if len(row) > 3 and per_country[code] > 1 else ""
        if note.lower().startswith("most of") or city.lower() in note.lower():
            note = ""  # "Berlin · Germany", not "…, most of Germany" or "Busingen, Busingen"
        found.append(Zone(name, region, city, countries.get(code, code), note))
    if not found:  # no tz tables on this machine: fall back to region names
        for name in zoneinfo.available_timezones():
            region, _, place = name.partition("/")
            if region in REGIONS and not name.startswith("Etc/"):
                found.append(Zone(name, region, place.rsplit("/", 1)[-1].replace("_", " "), ""))
    order = list(REGIONS)
    found.sort(key=lambda z: (order.index(z.region), z.city, z.name))
    return (Zone(UTC, "", "UTC", "Coordinated Universal Time"), *found)


@cache
def canonical_names() -> tuple[str, ...]:
    return tuple(zone.name for zone in zones())


@cache
def aliases() -> dict[str, str]:
    """Every other name the tz database knows, mapped to the zone people pick."""
    names = set(canonical_names())
    mapping = {alias: target for alias, target in SAME_AS.items() if target in names}
    for line in (_read("tzdata.zi") or "").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()
            target = target if target in names else SAME_AS.get(target, "")
            if target in names and alias not in names:
                mapping[alias] = target
    return mapping


def canonical(name: str) -> str | None:
    """The zone to show and save for a stored or posted name; None if not one we know."""
    if name in canonical_names():
        return name
    return aliases().get(name)


@cache
def legacy_names() -> frozenset[str]:
    """Every name this machine can load: zones stored before the list was trimmed stay valid."""
    return frozenset(zoneinfo.available_timezones() - {"Factory", "localtime"})
