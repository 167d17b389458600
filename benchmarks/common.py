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
# free loopback ports in a temporary folder (the same way tests/faults does)
# and removes them after.


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bindir():
    import os
    import shutil
    from pathlib import Path

    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not installed:
        raise SystemExit("no DATABASE_URL and no PostgreSQL server programs (initdb, pg_ctl)")
    return installed[-1].parent


class PrivatePostgres:
    """initdb + pg_ctl in a temporary folder, TCP on a free port (as ``postgres`` when root)."""

    def __init__(self) -> None:
        import os
        import tempfile
        from pathlib import Path

        self.bindir = _postgres_bindir()
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="tend-bench-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/tend_bench_smoke"

    def _run(self, program: str, *args: str) -> None:
        import subprocess

        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> PrivatePostgres:
        import shutil

        if self.as_postgres:
            shutil.chown(self.dir, user="postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        log = str(self.dir / "postgres.log")
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", log, "-o", options)
        return self

    def stop(self) -> None:
        import shutil

        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server without persistence on a free loopback port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> PrivateRedis:
        import socket
        import subprocess
        import time

        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(10).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("the private redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
