"""Seed a realistic load-test data set: 10,000 couples with a year of history.

Run against PostgreSQL (a database named by DATABASE_URL, created if missing,
migrated, emptied first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_load \\
        .venv/bin/python benchmarks/seed.py [--couples 10000] [--random-seed 1]

What it writes, per couple (two partners, both with a verified email address
and the same password, ``bench-password``, hashed once):

- the accepted invitation that paired them;
- 3 to 5 rituals from the catalog (rituals/content/catalog.toml), in one of
  six time zones, started a little more than a year ago;
- for every occurrence of the last 365 days: a sent reminder to each partner
  who gets them, and for most occurrences (each couple keeps 55-95 % of them)
  one or two completions;
- about 50 finished exercise sessions over the year, with a few entries each
  (shared, sealed and private, as each exercise's steps write them);
- answers to the daily question on 15-70 % of the days, per partner.

Everything goes in with COPY, in one transaction: the big tables' indexes are
dropped first and rebuilt after loading (faster than maintaining them row by
row), foreign keys are not checked row by row (``session_replication_role =
replica``; the rows are consistent by construction). If anything fails, the
transaction rolls back and the schema is as it was. Prints rows and seconds
per table, then runs ANALYZE. Users are ``user<id>@bench.tend``; couple ``c``
has users ``2c-1`` (seat 1) and ``2c`` (seat 2), which benchmarks/load.py uses.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")
# --smoke without DATABASE_URL runs on a private PostgreSQL of its own (main).
DATABASE_URL_GIVEN = bool(os.environ.get("DATABASE_URL"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tend_bench_load")

PASSWORD = "bench-password"  # the data set's shared password
ZONES = [  # (zone, share of couples)
    ("Europe/Berlin", 30),
    ("America/New_York", 20),
    ("Europe/London", 15),
    ("America/Los_Angeles", 15),
    ("Asia/Tokyo", 10),
    ("Australia/Sydney", 10),
]
# Couples joined in weekly cohorts a little over a year ago, so every one of
# them has a full year of history and schedules are computed once per cohort.
COHORTS = 8
KINDS = [  # (exercise kind, share of sessions)
    ("weekly_checkin", 30),
    ("temperature", 20),
    ("eye_gazing", 10),
    ("hug", 10),
    ("love_maps", 10),
    ("ladder", 10),
    ("stress_talk", 10),
]
FIRST_NAMES = [
    *("Alex", "Sam", "Robin", "Kim", "Jo", "Maria", "Lena", "Tom", "Noah", "Emma", "Mia"),
    *("Leo", "Ana", "Luca", "Sara", "Ben", "Nina", "Omar", "Yuki", "Hana", "Ravi", "Priya"),
    *("Chen", "Mei", "Liam", "Zoe", "Ivan", "Olga", "Tariq", "Amal", "Jonas", "Ida", "Felix"),
]
PHRASES = [
    "I loved how you made time for me today.",
    "Work was a lot this week, thank you for listening.",
    "The walk by the river, just the two of us.",
    "I'd like us to plan the weekend together.",
    "You made me laugh when I needed it.",
    "I felt a bit far away; I'd like more evenings like Sunday.",
    "Thank you for taking care of everything while I was sick.",
    "Our first trip together, the rain and the tiny hotel.",
    "I'm proud of how we handled the move.",
    "More hugs, fewer phones at dinner.",
]
NOTES = ["", "", "", "", "", "", "", "lovely", "short one today", "we laughed a lot"]


from common import ensure_database  # noqa: E402 (benchmarks/ is the script's folder)


def setup_django() -> None:
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (COPY is PostgreSQL's).")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- COPY text format ----------------------------------------------------

NULL = "\\N"


def esc(value: str) -> str:
    """A text value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def ts(value: datetime) -> str:
    return value.isoformat(sep=" ")


def b(value: bool) -> str:
    return "t" if value else "f"


class Loader:
    """Writes rows to tables with COPY on the Django connection, timing each table."""

    def __init__(self, connection) -> None:
        self.pg = connection.connection  # the psycopg connection
        self.timings: list[tuple[str, int, float]] = []

    def columns(self, model, names: list[str]) -> tuple[str, str]:
        fields = [model._meta.get_field(name) for name in names]
        return model._meta.db_table, ", ".join(f'"{f.column}"' for f in fields)

    def copy(self, model, names: list[str], chunks, label: str | None = None) -> int:
        """COPY the lines yielded (as strings of whole lines) by ``chunks``."""
        table, cols = self.columns(model, names)
        started = time.perf_counter()
        rows = 0
        with self.pg.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for count, text in chunks:
                rows += count
                copy.write(text)
        elapsed = time.perf_counter() - started
        self.timings.append((label or table, rows, elapsed))
        print(f"  {label or table:<34} {rows:>11,} rows {elapsed:7.1f} s", flush=True)
        return rows


def chunked(lines_by_item, size: int = 20_000):
    """Group an iterator of line lists into (count, text) chunks for COPY."""
    buffer = io.StringIO()
    count = 0
    for lines in lines_by_item:
        for line in lines:
            buffer.write(line)
        count += len(lines)
        if count >= size:
            yield count, buffer.getvalue()
            buffer = io.StringIO()
            count = 0
    if count:
        yield count, buffer.getvalue()


# --- big tables: drop their indexes while loading --------------------------


def drop_indexes(cursor, table: str) -> list[str]:
    """Drop a table's indexes (primary key and unique ones too); return how to rebuild them."""
    cursor.execute(
        """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype IN ('p', 'u')
        """,
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = %s AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c
            WHERE c.conname = i.indexname AND c.conrelid = %s::regclass
        )
        """,
        [table, table],
    )
    indexes = cursor.fetchall()
    rebuild = []
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    # Primary keys first: other constraints may lean on them.
    rebuild.sort(key=lambda sql: "PRIMARY KEY" not in sql)
    return rebuild


# --- the data set ----------------------------------------------------------


class World:
    """Everything decided per couple, from one random seed."""

    def __init__(self, couples: int, rng: random.Random, now: datetime) -> None:
        from rituals import catalog

        self.n = couples
        self.rng = rng
        self.now = now
        self.window_start = now - timedelta(days=365)
        self.templates = list(catalog.templates().values())
        zone_names = [z for z, _ in ZONES]
        zone_weights = [w for _, w in ZONES]
        self.zone = {}  # couple -> zone name
        self.partner_zone = {}  # couple -> seat 2's zone (a few live apart)
        self.cohort = {}  # couple -> cohort index
        self.created = {}  # couple -> created_at
        self.diligence = {}  # couple -> share of occurrences kept
        self.daily_rate = {}  # couple -> share of days each partner answers
        self.rituals: list[tuple] = []  # (ritual id, couple, template, start_date)
        for c in range(1, couples + 1):
            zone = rng.choices(zone_names, zone_weights)[0]
            self.zone[c] = zone
            self.partner_zone[c] = rng.choice(zone_names) if rng.random() < 0.1 else zone
            cohort = rng.randrange(COHORTS)
            self.cohort[c] = cohort
            self.created[c] = (now - timedelta(days=366 + 7 * cohort)).replace(
                hour=18, minute=0, second=0, microsecond=0
            ) + timedelta(minutes=rng.randrange(240))
            self.diligence[c] = rng.uniform(0.55, 0.95)
            self.daily_rate[c] = rng.uniform(0.15, 0.7)
        ritual_id = 0
        for c in range(1, couples + 1):
            for template in rng.sample(self.templates, rng.randint(3, 5)):
                ritual_id += 1
                self.rituals.append((ritual_id, c, template, self.start_date(c)))
        self.muted: dict[int, int] = {}  # ritual -> seat that muted it
        for ritual_id, *_ in self.rituals:
            if rng.random() < 0.03:
                self.muted[ritual_id] = rng.choice((1, 2))
        self.no_reminders = {u for u in range(1, 2 * couples + 1) if rng.random() < 0.05}
        self._occurrences: dict[tuple, tuple] = {}

    def start_date(self, c: int) -> date:
        return self.created[c].astimezone(ZoneInfo(self.zone[c])).date()

    @staticmethod
    def user(c: int, seat: int) -> int:
        return 2 * c - 2 + seat

    def occurrences(self, template, zone: str, start: date):
        """(past occurrences in the window, next occurrence), computed once per schedule."""
        key = (template.key, zone, start)
        if key not in self._occurrences:
            from rituals.recurrence import Schedule

            schedule = Schedule(
                rule=template.rrule, start_date=start, start_time=template.time, zone=ZoneInfo(zone)
            )
            past = schedule.between(self.window_start, self.now)
            self._occurrences[key] = (past, [ts(o) for o in past], schedule.next_after(self.now))
        return self._occurrences[key]


def users_rows(world: World, password: str):
    rng = world.rng
    for c in range(1, world.n + 1):
        lines = []
        for seat in (1, 2):
            uid = world.user(c, seat)
            zone = world.zone[c] if seat == 1 else world.partner_zone[c]
            joined = world.created[c] + timedelta(hours=seat - 1)
            lines.append(
                f"{uid}\t{password}\tf\tuser{uid}@bench.tend\t{rng.choice(FIRST_NAMES)}\t{zone}\t"
                f"{b(uid not in world.no_reminders)}\tt\tf\t{ts(joined)}\n"
            )
        yield lines


def emails_rows(world: World):
    for c in range(1, world.n + 1):
        yield [
            f"{uid}\t{uid}\tuser{uid}@bench.tend\tt\tt\n"
            for uid in (world.user(c, 1), world.user(c, 2))
        ]


def couples_rows(world: World):
    for c in range(1, world.n + 1):
        yield [f"{c}\t\t{world.zone[c]}\t{ts(world.created[c])}\t{NULL}\t1\n"]


def memberships_rows(world: World):
    for c in range(1, world.n + 1):
        yield [
            f"{world.user(c, seat)}\t{c}\t{world.user(c, seat)}\t{seat}\t"
            f"{ts(world.created[c] + timedelta(hours=seat - 1))}\t{NULL}\n"
            for seat in (1, 2)
        ]


def invitations_rows(world: World):
    for c in range(1, world.n + 1):
        created = world.created[c] + timedelta(minutes=10)
        inviter, invitee = world.user(c, 1), world.user(c, 2)
        token = hashlib.sha256(f"bench-token-{c}".encode()).hexdigest()
        code = hashlib.sha256(f"bench-code-{c}".encode()).hexdigest()
        yield [
            f"{c}\t{c}\t{inviter}\tuser{invitee}@bench.tend\t{token}\t{code}\t{ts(created)}\t"
            f"{ts(created + timedelta(days=7))}\t{ts(created)}\t1\t"
            f"{ts(created + timedelta(minutes=50))}\t{invitee}\t{NULL}\n"
        ]


def rituals_rows(world: World):
    rng = world.rng
    for ritual_id, c, t, start in world.rituals:
        zone = world.zone[c]
        _, _, upcoming = world.occurrences(t, zone, start)
        active = rng.random() >= 0.05  # a few paused
        occurrence = upcoming if active else None
        reminder = occurrence - timedelta(minutes=t.reminder_lead_minutes) if occurrence else None
        created = world.created[c] + timedelta(minutes=30)
        yield [
            "\t".join(
                [
                    str(ritual_id),
                    str(c),
                    t.key,
                    esc(t.title),
                    esc(t.why),
                    esc(t.how_to),
                    esc(t.prompt),
                    t.rrule,
                    start.isoformat(),
                    t.time.isoformat(),
                    NULL,
                    zone,
                    str(t.duration_minutes),
                    str(t.reminder_lead_minutes),
                    b(active),
                    ts(occurrence) if occurrence else NULL,
                    ts(reminder) if reminder else NULL,
                    str(world.user(c, rng.choice((1, 2)))),
                    ts(created),
                    ts(created),
                ]
            )
            + "\n"
        ]


def muted_rows(world: World):
    for ritual_id, c, _, _ in world.rituals:
        seat = world.muted.get(ritual_id)
        if seat:
            yield [f"{ritual_id}\t{world.user(c, seat)}\n"]


def deliveries_rows(world: World):
    """A sent reminder per past occurrence to each partner who gets them."""
    suffixes: dict[tuple, list[str]] = {}
    for ritual_id, c, t, start in world.rituals:
        zone = world.zone[c]
        past, past_text, _ = world.occurrences(t, zone, start)
        key = (t.key, zone, start)
        if key not in suffixes:
            lead = timedelta(minutes=t.reminder_lead_minutes)
            suffixes[key] = [
                f"\tsent\t1\t0\t\t{ts(o - lead)}\t{NULL}\t{ts(o - lead + timedelta(seconds=2))}\t"
                f"{ts(o - lead + timedelta(seconds=3))}\n"
                for o in past
            ]
        tails = suffixes[key]
        lines = []
        for seat in (1, 2):
            uid = world.user(c, seat)
            if uid in world.no_reminders or world.muted.get(ritual_id) == seat:
                continue
            prefix = f"{ritual_id}\t"
            middle = f"\t{uid}"
            lines.extend(
                [prefix + o + middle + tail for o, tail in zip(past_text, tails, strict=True)]
            )
        yield lines


def completions_rows(world: World):
    """Most past occurrences kept: by one partner, or by both (then usually together)."""
    rng = world.rng
    random_ = rng.random
    for ritual_id, c, t, start in world.rituals:
        zone = world.zone[c]
        past, past_text, _ = world.occurrences(t, zone, start)
        keep = world.diligence[c]
        one, two = world.user(c, 1), world.user(c, 2)
        done = timedelta(minutes=t.duration_minutes + 5)
        lines = []
        for occurrence, text in zip(past, past_text, strict=True):
            if random_() >= keep:
                continue
            created = ts(occurrence + done)
            who = random_()
            note = NOTES[int(random_() * len(NOTES))]
            if who < 0.4:
                together = "t" if random_() < 0.7 else "f"
                lines.append(f"{ritual_id}\t{text}\t{one}\t{together}\t{note}\t{created}\n")
                lines.append(f"{ritual_id}\t{text}\t{two}\t{together}\t\t{created}\n")
            else:
                uid = one if who < 0.75 else two
                lines.append(f"{ritual_id}\t{text}\t{uid}\tf\t{note}\t{created}\n")
        yield lines


def entry_specs() -> tuple[dict[str, list[tuple[str, int, str, str]]], dict[str, int]]:
    """Per exercise kind, the entries a finished run writes: (prompt key, seat, visibility, what),
    and the number of steps (where a finished run's step counter ends).

    Read from each exercise's own steps, so the keys are the ones the pages look for.
    """
    from exercises.engine import REGISTRY, prompt_key
    from exercises.kinds import love_maps
    from exercises.models import Session, Visibility

    specs, step_counts = {}, {}
    for kind, flow in REGISTRY.items():
        session = Session(kind=kind, state={"first_seat": 1})
        if kind == "love_maps":
            session.settings = {}
            session.state["rounds"] = [
                {"question": next(iter(love_maps.questions())), "subject": 1}
            ]
        else:
            flow.setup(session, {})
        found = []
        steps = flow.steps(session)
        step_counts[kind] = len(steps)
        for step in steps:
            if step.kind == "write":
                for seat in step.writers:
                    found.append((prompt_key(session, step), seat, step.visibility, "text"))
            elif step.kind == "turns" and step.note:
                for seat in (step.first or 1, 2 if (step.first or 1) == 1 else 1):
                    found.append((prompt_key(session, step), seat, "note", "text"))
            elif step.kind == "reveal" and step.rater is not None:
                found.append((f"{kind}:{step.key}-rating", step.rater, Visibility.SHARED, "rating"))
        specs[kind] = found
    return specs, step_counts


def sessions_and_entries(world: World):
    """~50 finished sessions per couple over the year; the entries each wrote."""
    import json

    from exercises.engine import REGISTRY
    from exercises.kinds import love_maps
    from exercises.models import Visibility

    rng = world.rng
    specs, step_counts = entry_specs()
    kinds = [k for k, _ in KINDS if k in REGISTRY]
    weights = [w for k, w in KINDS if k in REGISTRY]
    questions = list(love_maps.questions().items())
    settings_of = {}
    for kind in kinds:
        from exercises.models import Session

        probe = Session(kind=kind, state={"first_seat": 1})
        if kind != "love_maps":
            REGISTRY[kind].setup(probe, {})
        settings_of[kind] = json.dumps(probe.settings)
    sessions, entries = [], []
    session_id = 0
    span = (world.now - world.window_start).total_seconds() - 3600
    for c in range(1, world.n + 1):
        for _ in range(rng.randint(35, 65)):
            session_id += 1
            kind = rng.choices(kinds, weights)[0]
            first = rng.choice((1, 2))
            created = world.window_start + timedelta(seconds=rng.random() * span)
            finished = created + timedelta(minutes=rng.randint(5, 40))
            ended_early = rng.random() < 0.1
            state = {"first_seat": first}
            data_extra = {}
            if kind == "love_maps":
                qkey, question = rng.choice(questions)
                state["rounds"] = [{"question": qkey, "subject": first}]
                data_extra = {
                    "question": qkey,
                    "category": question["category"],
                    "subject_seat": first,
                }
            status = "ended" if ended_early else "finished"
            sessions.append(
                f"{session_id}\t{c}\t{kind}\ttwo_devices\t{status}\t"
                f"{world.user(c, first)}\t{step_counts[kind]}\t{NULL}\t[]\t{settings_of[kind]}\t"
                f"{esc(json.dumps(state))}\t{NULL}\t0\tf\t{rng.randint(6, 40)}\t"
                f"{ts(created)}\t{ts(finished)}\t{ts(finished)}\n"
            )
            kind_specs = specs[kind]
            if not kind_specs:
                continue
            count = min(len(kind_specs), rng.randint(2, 6))
            if ended_early:
                count = min(count, 1)
            for key, seat, visibility, what in kind_specs[:count]:
                if first == 2:
                    seat = 2 if seat == 1 else 1
                if visibility == "note":
                    visibility = Visibility.PRIVATE if rng.random() < 0.3 else Visibility.SHARED
                data = "{}"
                text = rng.choice(PHRASES)
                if what == "rating":
                    rating = rng.choice(("spot_on", "close", "not_quite"))
                    data = esc(json.dumps({"rating": rating, **data_extra}))
                    text = ""
                written = ts(created + timedelta(minutes=rng.randint(1, 5)))
                entries.append(
                    f"{c}\t{session_id}\t{world.user(c, seat)}\t{key}\t{visibility}\t"
                    f"{esc(text)}\t{data}\t{written}\n"
                )
        if len(sessions) >= 20_000:
            yield sessions, entries
            sessions, entries = [], []
    yield sessions, entries


def daily_rows(world: World):
    """Answers to the daily question, sealed, on a share of the couple's local days."""
    from exercises import daily

    keys = daily.deck_keys()
    rng = world.rng
    for c in range(1, world.n + 1):
        order = keys[:]
        random.Random(f"tend-daily-{c}").shuffle(order)
        created_day = world.created[c].date()  # as daily.question_for reads it (UTC)
        today = world.now.astimezone(ZoneInfo(world.zone[c])).date()
        rate = world.daily_rate[c]
        offset = ZoneInfo(world.zone[c]).utcoffset(world.now.replace(tzinfo=None))
        lines = []
        for back in range(1, 366):
            day = today - timedelta(days=back)
            question = order[(day - created_day).days % len(order)]
            key = f"{daily.PREFIX}{day.isoformat()}:{question}"
            written = datetime.combine(day, dtime(20, 0), tzinfo=UTC) - offset
            for seat in (1, 2):
                if rng.random() < rate:
                    lines.append(
                        f"{c}\t{NULL}\t{world.user(c, seat)}\t{key}\tsealed\t"
                        f"{esc(rng.choice(PHRASES))}\t{{}}\t{ts(written)}\n"
                    )
        yield lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--couples", type=int, default=10_000)
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny, seconds-long run that only shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    private = None
    if args.smoke:
        args.couples = 4
        if not DATABASE_URL_GIVEN:
            from common import private_postgres

            private = private_postgres()
            os.environ["DATABASE_URL"] = private.url
            print("no DATABASE_URL: a private PostgreSQL for this smoke run")
    try:
        seed(args)
    finally:
        if private is not None:
            private.stop()


def seed(args: argparse.Namespace) -> None:
    setup_django()

    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from accounts.models import User
    from couples.models import Couple, Invitation, Membership
    from exercises.models import Entry, Session
    from rituals.models import Completion, ReminderDelivery, Ritual

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(args.random_seed)
    print(f"Seeding {args.couples:,} couples into {connection.settings_dict['NAME']} ...")
    world = World(args.couples, rng, now)
    password = make_password(PASSWORD)  # once: every user shares it
    loader = Loader(connection)
    big = [Completion, ReminderDelivery, Entry]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no per-row FK triggers
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        tables = ", ".join(
            m._meta.db_table
            for m in (
                ReminderDelivery,
                Completion,
                Ritual.muted_by.through,
                Ritual,
                Entry,
                Session,
                Invitation,
                Membership,
                Couple,
                EmailAddress,
                User,
            )
        )
        cursor.execute(f"TRUNCATE {tables}, django_session RESTART IDENTITY CASCADE")
        rebuild = {m._meta.db_table: drop_indexes(cursor, m._meta.db_table) for m in big}

        user_fields = [
            "id",
            "password",
            "is_superuser",
            "email",
            "display_name",
            "time_zone",
            "reminders_enabled",
            "is_active",
            "is_staff",
            "date_joined",
        ]
        loader.copy(User, user_fields, chunked(users_rows(world, esc(password))))
        loader.copy(
            EmailAddress,
            ["id", "user", "email", "verified", "primary"],
            chunked(emails_rows(world)),
        )
        loader.copy(
            Couple,
            ["id", "name", "time_zone", "created_at", "archived_at", "calendar_version"],
            chunked(couples_rows(world)),
        )
        loader.copy(
            Membership,
            ["id", "couple", "user", "seat", "joined_at", "left_at"],
            chunked(memberships_rows(world)),
        )
        loader.copy(
            Invitation,
            [
                "id",
                "couple",
                "invited_by",
                "email",
                "token_hash",
                "code_hash",
                "created_at",
                "expires_at",
                "last_sent_at",
                "send_count",
                "accepted_at",
                "accepted_by",
                "revoked_at",
            ],
            chunked(invitations_rows(world)),
        )
        loader.copy(
            Ritual,
            [
                "id",
                "couple",
                "template_key",
                "title",
                "description",
                "how_to",
                "prompt",
                "rrule",
                "start_date",
                "start_time",
                "end_date",
                "time_zone",
                "duration_minutes",
                "reminder_lead_minutes",
                "is_active",
                "next_occurrence_at",
                "next_reminder_at",
                "created_by",
                "created_at",
                "updated_at",
            ],
            chunked(rituals_rows(world)),
        )
        loader.copy(
            Ritual.muted_by.through, ["ritual", "user"], chunked(muted_rows(world)), "muted_by"
        )
        loader.copy(
            ReminderDelivery,
            [
                "ritual",
                "occurrence_at",
                "recipient",
                "status",
                "attempts",
                "abandoned",
                "last_error",
                "created_at",
                "next_attempt_at",
                "claimed_at",
                "sent_at",
            ],
            chunked(deliveries_rows(world), 50_000),
        )
        loader.copy(
            Completion,
            ["ritual", "occurrence_at", "user", "together", "note", "created_at"],
            chunked(completions_rows(world), 50_000),
        )
        # Sessions and their entries come from one pass; write the sessions
        # first, keep the entries for the next COPY.
        session_entries: list[str] = []

        def sessions_only():
            for sessions, entries in sessions_and_entries(world):
                session_entries.extend(entries)
                yield sessions

        session_fields = [
            "id",
            "couple",
            "kind",
            "mode",
            "status",
            "started_by",
            "step",
            "turn_seat",
            "done_seats",
            "settings",
            "state",
            "timer_started_at",
            "timer_elapsed_ms",
            "timer_running",
            "version",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        loader.copy(Session, session_fields, chunked(sessions_only()))
        entry_fields = [
            "couple",
            "session",
            "author",
            "prompt_key",
            "visibility",
            "text",
            "data",
            "created_at",
        ]
        loader.copy(
            Entry,
            entry_fields,
            chunked(
                session_entries[i : i + 10_000] for i in range(0, len(session_entries), 10_000)
            ),
            "exercises_entry (sessions)",
        )
        session_entries.clear()
        loader.copy(
            Entry, entry_fields, chunked(daily_rows(world), 50_000), "exercises_entry (daily)"
        )

        for table, statements in rebuild.items():
            began = time.perf_counter()
            for sql in statements:
                cursor.execute(sql)
            label = f"indexes of {table}"
            took = time.perf_counter() - began
            print(f"  {label:<34} {len(statements):>11} built {took:7.1f} s", flush=True)
        for sql in connection.ops.sequence_reset_sql(
            no_style(), [User, EmailAddress, Couple, Membership, Invitation, Ritual, Session]
        ):
            cursor.execute(sql)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  {'ANALYZE':<34} {'':>11}       {time.perf_counter() - began:7.1f} s")
    check(world)
    total_rows = sum(rows for _, rows, _ in loader.timings)
    print(f"Done: {total_rows:,} rows in {time.perf_counter() - started:.1f} s.")


def check(world: World) -> None:
    """A few spot checks that the data reads the way the app reads it."""
    from django.contrib.auth import authenticate
    from django.db.models import Count

    from couples.models import Couple
    from exercises import daily
    from exercises.models import Entry, Visibility
    from rituals.models import Completion, Ritual

    couple = Couple.objects.get(pk=1)
    today = daily.couple_today(couple)
    for back in (1, 2, 3):
        day = today - timedelta(days=back)
        assert daily.key_for(day, daily.question_for(couple, day)).startswith("daily:")
    expected = {
        daily.key_for(d, daily.question_for(couple, d))
        for d in (today - timedelta(days=n) for n in range(1, 366))
    }
    found = set(
        Entry.objects.filter(couple=couple, session=None).values_list("prompt_key", flat=True)
    )
    assert found <= expected, "daily keys differ from the app's own"
    ritual = Ritual.objects.filter(couple=couple).first()
    kept = Completion.objects.filter(ritual=ritual).values_list("occurrence_at", flat=True)
    for occurrence in kept[:20]:
        assert ritual.is_occurrence(occurrence), "completion off the schedule"
    user = authenticate(email="user1@bench.tend", password=PASSWORD)
    assert user is not None and user.pk == 1, "the shared password does not log in"
    mix = dict(
        Entry.objects.filter(session__isnull=False)
        .values_list("visibility")
        .annotate(n=Count("id"))
        .order_by()
    )
    print(
        "  checks ok; session entries by visibility: "
        + ", ".join(f"{v} {mix.get(v, 0):,}" for v in Visibility.values)
    )


if __name__ == "__main__":
    main()
