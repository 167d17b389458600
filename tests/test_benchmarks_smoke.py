"""Every benchmark still runs: each script in benchmarks/, in its ``--smoke`` mode.

A benchmark isn't part of the test run, so a schema change could break one
unseen (seed.py's COPY lost a column once). Here each script found in the
folder (a new one is covered without anyone listing it) runs as a subprocess
at a tiny size and must exit 0 having printed figures.

The benchmarks measure the production set-up, so they always run against
PostgreSQL and Redis on 127.0.0.1, even when the suite itself runs on SQLite:
the server in DATABASE_URL when that is PostgreSQL (CI), else the benchmarks'
own default (postgres@127.0.0.1:5432). They share a scratch database, made
for this run and dropped after: never the test database, nor a benchmark's
real data set. faults.py takes most of the time (every scenario, with its
simulated outages).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from dj_database_url import parse

from tests.member_pages import member_pages

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(
    path.name
    for path in (ROOT / "benchmarks").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text()
)
# A number with a unit, as every benchmark prints its figures: "348 ms", "2.9 s", "95/s", "48 %".
FIGURE = re.compile(r"\d[\d,.]* ?(ms|s|/s|%)(?!\w)")
SMOKE_TIMEOUT = 420  # seconds per script: about a minute on a quiet machine, far more under load


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def _admin(url: str) -> psycopg.Connection:
    config = parse(url)
    try:
        return psycopg.connect(
            host=config["HOST"] or "127.0.0.1",
            port=config["PORT"] or 5432,
            user=config["USER"] or "postgres",
            password=config["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as error:
        raise AssertionError(
            f"The benchmarks' smoke runs need PostgreSQL ({config['HOST'] or '127.0.0.1'}:"
            f"{config['PORT'] or 5432}), even under SQLite: start it (see README) or run "
            f"with DATABASE_URL naming a PostgreSQL server. ({error})"
        ) from error


@pytest.fixture(scope="module")
def bench_env():
    server = _server_url()
    # Per process: two runs on one server never share it.
    name = f"{os.environ.get('TEST_DATABASE_NAME') or 'test_tend'}_bench_{os.getpid()}"
    url = server.rsplit("/", 1)[0] + "/" + name
    with _admin(server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(DATABASE_URL=url, PYTHONUNBUFFERED="1")
    yield env
    with _admin(server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_benchmarks_are_found_in_their_folder():
    assert {"seed.py", "load.py", "dispatch.py"} <= set(SCRIPTS)
    assert "common.py" not in SCRIPTS  # a helper, not a benchmark


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_runs_in_its_smoke_mode_and_prints_figures(script, bench_env):
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--smoke"],
        cwd=ROOT,
        env=bench_env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{script} --smoke exited {result.returncode}:\n{output[-4000:]}"
    figures = [line for line in result.stdout.splitlines() if FIGURE.search(line)]
    assert figures, f"{script} --smoke printed no figures:\n{output[-4000:]}"
    if script == "load.py":
        assert_every_page_measured(result.stdout)


def assert_every_page_measured(stdout: str) -> None:
    """load.py's table has a row with figures for every member page of the URLconf, the poll,
    keep and both ceilings, and a verdict for each page."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "share" in line and "think p95" in line)
    table = lines[header + 1 : next(i for i, line in enumerate(lines) if "(share:" in line)]
    rows = {line.split()[0]: line for line in table if line.startswith("  ") and line.split()}
    expected = member_pages() | {"poll", "keep", "floor", "bare", "ceiling"}
    missing = {name for name in expected if name not in rows}
    assert not missing, f"load.py --smoke measured no {sorted(missing)}:\n{stdout[-6000:]}"
    for name in expected:
        numbers = re.findall(r"\d+\.\d+", rows[name])
        assert len(numbers) >= 7, f"no figures for {name}: {rows[name]!r}"
    for name in member_pages():
        assert re.search(rf"(PASS|MISS)  {name}: \d+/s = \d+% of the bare ceiling", stdout), name
        assert re.search(rf"(PASS|MISS)  {name}: p95 [\d.]+ ms with think time", stdout), name
    for name in member_pages() | {"floor", "bare", "ceiling"}:
        assert re.search(rf"\n  {name} +[\d.]+ +\d+ +\d+%\n", stdout), f"{name}: not profiled"


@pytest.mark.parametrize("script", ["seed.py", "load.py"])
def test_the_load_benchmark_runs_without_a_postgresql_or_redis_given(script):
    """With no DATABASE_URL or REDIS_URL the smoke runs bring their own (initdb, redis-server)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--smoke"],
        cwd=ROOT,
        env=env | {"PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{script} --smoke exited {result.returncode}:\n{output[-4000:]}"
    assert "no DATABASE_URL: a private PostgreSQL" in result.stdout
    if script == "load.py":
        assert "no REDIS_URL: a private Redis" in result.stdout
        assert_every_page_measured(result.stdout)
    else:
        assert re.search(r"rituals_completion +[\d,]+ rows", result.stdout), output[-4000:]
