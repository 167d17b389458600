"""What every benchmark script here needs: its PostgreSQL database, made if missing."""

from __future__ import annotations


def ensure_database(url: str) -> None:
    """Create the database named by ``url`` on its server if it doesn't exist yet."""
    import psycopg
    from dj_database_url import parse

    config = parse(url)
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        name = config["NAME"]
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


# --- private PostgreSQL and Redis for --smoke runs ------------------------------------
#
# A smoke run must work on a machine (or CI job) where no PostgreSQL or Redis
# is running: when DATABASE_URL / REDIS_URL are not set, it starts its own on
# free loopback ports, the fault tests' own (tests/services.py), and stops
# them after. Each has ``url``, and ``stop()``.


def private_postgres():
    from tests.services import PrivatePostgres

    return PrivatePostgres().start()


def private_redis():
    import tempfile
    from pathlib import Path

    from tests.services import PrivateRedis

    return PrivateRedis(Path(tempfile.mkdtemp(prefix="tend-bench-redis-"))).start()
