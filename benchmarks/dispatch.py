"""Dispatch benchmark: one reminder tick over 10k and 100k rituals, 1,000 due.

Run against PostgreSQL (a database named by DATABASE_URL, created if missing,
emptied first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench \\
        .venv/bin/python benchmarks/dispatch.py [--sizes 10000 100000] [--due 1000]

Prints, per size: the seeding time, the tick's time (claiming the due
rituals, writing their outbox rows, advancing their schedules), then the
sends per second of the queued reminders to a local SMTP sink (aiosmtpd on
loopback), and finally the ratio of the tick times of the largest and
smallest sizes. The tick must grow with the number due, not with the
number of rituals, so that ratio should stay near 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")
os.environ["CELERY_BROKER_URL"] = "memory://"  # the tick's triggers are counted, not consumed


from common import ensure_database  # noqa: E402 (benchmarks/ is the script's folder)


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/tend_bench"
        )
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE rituals_reminderdelivery, rituals_completion, rituals_ritual_muted_by, "
            "rituals_ritual, couples_invitation, couples_membership, couples_couple, "
            "account_emailaddress, accounts_user RESTART IDENTITY CASCADE"
        )


def seed(total: int, due: int, now: datetime) -> float:
    """``total`` active daily rituals, ``due`` of them with a reminder due now."""
    from zoneinfo import ZoneInfo

    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from couples.models import Couple, Membership
    from rituals.models import Ritual

    started = time.perf_counter()
    per_couple = 10
    couples_needed = -(-total // per_couple)
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(
                email=f"p{n}@bench.tend",
                display_name=f"P{n}",
                password=password,
                time_zone="Europe/Berlin",
            )
            for n in range(couples_needed * 2)
        ],
        batch_size=5000,
    )
    couples = Couple.objects.bulk_create(
        [Couple(time_zone="Europe/Berlin") for _ in range(couples_needed)], batch_size=5000
    )
    Membership.objects.bulk_create(
        [
            Membership(couple=couple, user=users[2 * i + seat - 1], seat=seat)
            for i, couple in enumerate(couples)
            for seat in (1, 2)
        ],
        batch_size=10000,
    )
    zone = ZoneInfo("Europe/Berlin")
    # Due ones start 10 minutes from now with a 15-minute lead; the rest later today or tomorrow.
    soon = (now + timedelta(minutes=10)).astimezone(zone)
    rituals = []
    for n in range(total):
        is_due = n < due
        start_local = soon if is_due else (now + timedelta(hours=2 + n % 20)).astimezone(zone)
        occurrence = start_local.replace(second=0, microsecond=0)
        rituals.append(
            Ritual(
                couple=couples[n // per_couple],
                title=f"Ritual {n}",
                rrule="FREQ=DAILY",
                start_date=date(2026, 1, 1),
                start_time=occurrence.time(),
                time_zone="Europe/Berlin",
                duration_minutes=15,
                reminder_lead_minutes=15,
                next_occurrence_at=occurrence,
                next_reminder_at=occurrence - timedelta(minutes=15),
            )
        )
    Ritual.objects.bulk_create(rituals, batch_size=10000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def run_tick(now: datetime):
    import time_machine

    from rituals import dispatch

    with time_machine.travel(now, tick=False):
        started = time.perf_counter()
        result = dispatch.dispatch_due_reminders()
        elapsed = time.perf_counter() - started
    return elapsed, result


def send_all(ids: list[int], now: datetime) -> tuple[float, int]:
    import time_machine
    from django.conf import settings

    from rituals import dispatch
    from tests.mailsink import MailSink

    with MailSink() as sink:
        settings.MAILERS = sink.mailers()
        from django.core.mail import mailers

        mailers.__dict__.pop("_settings", None)
        with time_machine.travel(now, tick=True):
            started = time.perf_counter()
            for delivery_id in ids:
                dispatch.send_delivery(delivery_id)
            elapsed = time.perf_counter() - started
        sink.wait_for(len(ids), timeout=60)
        received = len(sink.received)
    return elapsed, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--send", type=int, default=1_000, help="how many queued reminders to send")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny, seconds-long run that only shows the script still works (tests do it)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.due, args.send = [20, 40], 5, 5
    setup_django()
    from django.db import connection

    now = datetime.now().astimezone().replace(microsecond=0)
    ticks = {}
    print(
        f"PostgreSQL {connection.cursor().connection.info.server_version}, due per run: {args.due}"
    )
    for size in args.sizes:
        reset()
        seeded = seed(size, args.due, now)
        elapsed, result = run_tick(now)
        ticks[size] = elapsed
        print(
            f"{size:>7} rituals: seeded in {seeded:6.1f} s; tick {elapsed * 1000:7.1f} ms "
            f"for {result.rituals} due rituals, {len(result.queued)} reminders queued "
            f"({len(result.queued) / elapsed:,.0f} outbox rows/s)"
        )
        if size == args.sizes[-1] and args.send:
            ids = result.queued[: args.send]
            send_time, received = send_all(ids, now)
            print(
                f"         sent {received} reminders to a local SMTP sink in {send_time:5.1f} s: "
                f"{received / send_time:,.0f} sends/s (one process, one connection per message)"
            )
    smallest, largest = min(ticks), max(ticks)
    if smallest != largest:
        print(
            f"tick time ratio {largest:,} vs {smallest:,} rituals: "
            f"{ticks[largest] / ticks[smallest]:.2f} (grows with the number due, not the total)"
        )


if __name__ == "__main__":
    main()
