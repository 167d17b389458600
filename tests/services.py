"""Services of our own for tests and benchmarks: a Redis and a PostgreSQL that a
test may stop, freeze or restart without touching the shared ones.

No Django here: ``benchmarks/`` starts these before Django is set up (its
``--smoke`` runs work on a machine with neither service running), and
``tests/faults`` builds its fault scenarios on them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis

from tests.mailsink import free_port


def wait_until(condition: Callable[[], bool], timeout: float, what: str, pause=0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pause)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _end(process: subprocess.Popen, sig: int, grace: float) -> None:
    """Send ``sig`` to a process we started; SIGKILL it if it outlives ``grace``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- Redis ----------------------------------------------------------------


class PrivateRedis:
    """A redis-server on 127.0.0.1 and a free port, with no persistence: a restart empties it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> PrivateRedis:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                    *("--dir", str(self.workdir)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, 10, f"redis-server on port {self.port}:\n{_tail(self.log)}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"redis-server exited:\n{_tail(self.log)}")
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()  # a frozen server would not act on SIGTERM
        _end(self.process, signal.SIGTERM, grace=5)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port and its data but answers nothing, as a
        frozen VM or container would. Connections are still accepted by the kernel."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.process is not None and self.paused:
            os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    @property
    def running(self) -> bool:
        return self.process is not None

    def restart(self) -> None:
        """Stop and start on the same port: without persistence it comes back empty."""
        self.stop()
        self.start()

    def snapshot(self) -> None:
        """Write the data to disk (SAVE): the next start loads it, as a Redis with
        persistence comes back with what it had."""
        self.client().save()

    def flushall(self) -> None:
        self.client().flushall()

    def queued(self, queue: str) -> int:
        return self.client().llen(queue)


# --- PostgreSQL -------------------------------------------------------------


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``PG_BINDIR``, the ``PATH``, or the newest
    of Debian's ``/usr/lib/postgresql/<version>/bin``."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1].parent
    raise AssertionError(
        "PostgreSQL's server programs (initdb, pg_ctl) are needed: install the "
        "postgresql package, or set PG_BINDIR to the folder that holds them"
    )


class PrivatePostgres:
    """A PostgreSQL cluster of our own on 127.0.0.1 and a free port, in a temporary
    directory: restarting it ends every connection to it and to nothing else.

    ``initdb`` and ``postgres`` refuse to run as root; as root (as CI runs) they
    run as the ``postgres`` user, through ``runuser``, in a directory it owns
    (under the temporary folder, or ``/tmp`` if that one is closed to it).
    Unix sockets are off (TCP only), ``fsync`` and full-page writes too: a restart, even an
    immediate one, keeps what the kernel was given, and this data is thrown
    away anyway. Commits stay synchronous, so a commit the client saw survives.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.as_postgres = os.geteuid() == 0
        parent = tempfile.gettempdir()
        if self.as_postgres and not self._reachable(parent):
            parent = "/tmp"  # e.g. a checkout under /root, which only root may enter
        self.dir = Path(tempfile.mkdtemp(prefix="tend-pg-", dir=parent))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.restarts = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/tend"

    @staticmethod
    def _reachable(folder: str) -> bool:
        probe = ["runuser", "-u", "postgres", "--", "test", "-x", folder]
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                f"{_tail(self.log)}"
            )
        return done.stdout

    def start(self) -> PrivatePostgres:
        if self.as_postgres:
            shutil.chown(self.dir, user="postgres")
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("--no-sync", "--no-locale", "-E", "UTF8"),
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=40"
        )
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options)
        with psycopg.connect(self.url.replace("/tend", "/postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE tend")
        return self

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: ``fast`` ends every session and shuts down cleanly,
        ``immediate`` stops at once (recovery on start), as a crash would.
        Returns once the server accepts connections again."""
        with self._lock:
            # The same options as before (pg_ctl keeps them), and the same log:
            # without -l the new server would hold on to our output pipes.
            self._run(
                "pg_ctl", "restart", "-w", "-m", mode, "-D", str(self.data), "-l", str(self.log)
            )
            self.restarts += 1

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        shutil.rmtree(self.dir, ignore_errors=True)
