"""Who is asking, from which seat of which space: one query for every request.

Every member page needs the same few rows: the logged-in user, their active
membership, the space, and the partner in the other seat. Django's
``get_user`` loads the user alone and each view then asked for the rest, so
a page cost two or three queries before it read anything of its own. Here
one query joins them all (``Viewer``), and the session is verified from the
row it returns exactly as ``get_user`` verifies it:

1. The session names a user and a backend Tend still uses; otherwise the
   visitor is anonymous.
2. The user exists and may log in (``is_active``).
3. The session-auth hash matches the user's password under ``SECRET_KEY``,
   so a password change (or an admin's reset) ends every other session.
4. Under one of ``SECRET_KEY_FALLBACKS`` it still matches while a key is
   being rotated: the session is then re-keyed and its hash renewed, as
   Django does. No match: the session is flushed, the visitor anonymous.

The busiest requests (the live poll, the waiting card, keep and undo) need
one more row each; they pass it as an ``Extra`` and get it from the same
query: a scalar read of the viewer's space, or a row of a model owned by
the space. ``ViewerMiddleware`` puts the viewer's user on ``request.user``
lazily, so Django's auth never runs a query of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models.expressions import Col
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from accounts.models import User
from couples.models import Couple, Membership


@dataclass(frozen=True)
class Value:
    """One value read from the viewer's space: ``sql`` is a scalar subquery in
    which ``{couple}`` stands for the space's id column."""

    sql: str
    params: tuple = ()


@dataclass(frozen=True)
class Row:
    """The row of ``model`` (which has a ``couple`` key) with primary key ``pk``,
    found only in the viewer's own space: someone else's row reads as None."""

    model: type[models.Model]
    pk: int


Extra = Value | Row


@dataclass
class Viewer:
    """The logged-in user; their active seat (with the space) or None outside
    a space; the partner in the other seat, or None in solo mode; the extras
    asked for, by name."""

    user: User
    membership: Membership | None
    partner: User | None
    extra: dict[str, Any] = field(default_factory=dict)
    partner_membership: Membership | None = None

    @property
    def couple(self) -> Couple | None:
        return self.membership.couple if self.membership else None

    @property
    def zone(self) -> ZoneInfo:
        return self.user.zone

    @property
    def members(self) -> list[Membership]:
        """Both active seats of the space (one in solo mode), by seat."""
        if self.membership is None:
            return []
        seats = [self.membership]
        if self.partner is not None:
            seats.append(self.partner_membership)
        return sorted(seats, key=lambda m: m.seat)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(f"{alias}.{_q(f.column)}" for f in model._meta.concrete_fields)


def _read(model: type[models.Model], values: list) -> models.Model | None:
    """A model instance from its columns in the row, converted as the ORM would
    (SQLite hands back text for datetimes); None for an outer join's nulls."""
    pk_index, attnames, converters = _reader(connection.vendor, model)
    if values[pk_index] is None:  # an outer join found no row
        return None
    for index, convert, col in converters:
        values[index] = convert(values[index], col, connection)
    return model.from_db(connection.alias, attnames, values)


@lru_cache(maxsize=16)
def _reader(vendor: str, model: type[models.Model]) -> tuple[int, list[str], list[tuple]]:
    """What ``_read`` needs of a model, worked out once per database kind (as
    ``_sql``): where its primary key is, its attribute names, and the
    converters of the columns that have any."""
    fields = model._meta.concrete_fields
    converters = []
    for index, f in enumerate(fields):
        col = Col(model._meta.db_table, f)
        for convert in connection.ops.get_db_converters(col) + f.get_db_converters(connection):
            converters.append((index, convert, col))
    return fields.index(model._meta.pk), [f.attname for f in fields], converters


def _query(user_id, extras: dict[str, Extra]) -> tuple[str, list]:
    # The SQL depends only on which extras are asked for: written once per shape.
    shape = tuple(
        (extra.sql, None) if isinstance(extra, Value) else (None, extra.model)
        for extra in extras.values()
    )
    values = [extra for extra in extras.values() if isinstance(extra, Value)]
    select_params = [param for value in values for param in value.params]
    join_params = [extra.pk for extra in extras.values() if isinstance(extra, Row)]
    return _sql(connection.vendor, shape), [*select_params, *join_params, user_id]


@lru_cache(maxsize=64)
def _sql(vendor: str, shape: tuple) -> str:
    user, member, couple = User._meta.db_table, Membership._meta.db_table, Couple._meta.db_table
    select = [
        _columns(User, "u"),
        _columns(Membership, "m"),
        _columns(Couple, "c"),
        _columns(Membership, "pm"),
        _columns(User, "pu"),
    ]
    joins = [
        f"LEFT JOIN {_q(member)} m ON m.{_q('user_id')} = u.{_q('id')}"
        f" AND m.{_q('left_at')} IS NULL",
        f"LEFT JOIN {_q(couple)} c ON c.{_q('id')} = m.{_q('couple_id')}",
        f"LEFT JOIN {_q(member)} pm ON pm.{_q('couple_id')} = m.{_q('couple_id')}"
        f" AND pm.{_q('left_at')} IS NULL AND pm.{_q('id')} <> m.{_q('id')}",
        f"LEFT JOIN {_q(user)} pu ON pu.{_q('id')} = pm.{_q('user_id')}",
    ]
    for n, (sql, model) in enumerate(shape):
        if model is None:
            select.append("(" + sql.format(couple=f"c.{_q('id')}") + ")")
        else:
            alias = f"x{n}"
            table = _q(model._meta.db_table)
            select.append(_columns(model, alias))
            joins.append(
                f"LEFT JOIN {table} {alias} ON {alias}.{_q('couple_id')} = c.{_q('id')}"
                f" AND {alias}.{_q(model._meta.pk.column)} = %s"
            )
    # Only quoted names from the models' metadata are spliced in; values are parameters.
    return f"SELECT {', '.join(select)} FROM {_q(user)} u {' '.join(joins)} WHERE u.{_q('id')} = %s"  # noqa: S608


def _load(user_id, extras: dict[str, Extra]) -> Viewer | None:
    sql, params = _query(user_id, extras)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)

    def take(model):
        count = len(model._meta.concrete_fields)
        values, row[:count] = row[:count], []
        return _read(model, values)

    user, membership, couple, partner_seat, partner = (
        take(User),
        take(Membership),
        take(Couple),
        take(Membership),
        take(User),
    )
    extra = {}
    for name, wanted in extras.items():
        extra[name] = row.pop(0) if isinstance(wanted, Value) else take(wanted.model)
    if membership is not None:
        membership.user, membership.couple = user, couple
    if partner_seat is not None:
        partner_seat.user, partner_seat.couple = partner, couple
    for found in extra.values():
        if isinstance(found, models.Model) and couple is not None:
            found.couple = couple
    return Viewer(user, membership, partner, extra, partner_membership=partner_seat)


def _session_verified(request: HttpRequest, user: User) -> bool:
    """Steps 3 and 4 of the module's docstring: Django's own rule, on our row."""
    given = request.session.get(HASH_SESSION_KEY)
    if given and constant_time_compare(given, user.get_session_auth_hash()):
        return True
    if given and any(
        constant_time_compare(given, old) for old in user.get_session_auth_fallback_hash()
    ):
        request.session.cycle_key()
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        return True
    request.session.flush()
    return False


def session_user_id(request: HttpRequest):
    """The id the session was logged in with, if any (not yet verified)."""
    try:
        raw = request.session[SESSION_KEY]
        backend = request.session[BACKEND_SESSION_KEY]
    except KeyError:
        return None
    if backend not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        return User._meta.pk.to_python(raw)
    except (TypeError, ValueError, ValidationError):  # a tampered session: anonymous
        return None


def viewer_for(request: HttpRequest, **extras: Extra) -> Viewer | None:
    """The request's viewer with ``extras`` read in the same query; None if anonymous.

    Read once per request; asking again with extras the first read didn't
    have costs one more query (only the fast paths pass extras, first).
    """
    user_id = session_user_id(request)
    if user_id is None:
        return None
    cached = getattr(request, "_viewer", None)
    if cached is not None and cached.user.pk == user_id and extras.keys() <= cached.extra.keys():
        return cached
    viewer = _load(user_id, extras)
    if viewer is None or not viewer.user.is_active:
        return None
    if not _session_verified(request, viewer.user):
        return None
    request._viewer = viewer
    return viewer


def _lazy_user(request: HttpRequest) -> Callable[[], Any]:
    def load():
        viewer = viewer_for(request)
        return viewer.user if viewer is not None else AnonymousUser()

    return load


class ViewerMiddleware(AuthenticationMiddleware):
    """Django's ``AuthenticationMiddleware`` (``request.auser`` stays Django's),
    with ``request.user`` read from the viewer's one query when first used."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(_lazy_user(request))
