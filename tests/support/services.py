"""Real database servers for tests: PostgreSQL, MariaDB and Redis from the Debian packages.

Each server runs on 127.0.0.1 with a random free port, from a fresh temporary directory, for the whole
test session, and is stopped (and its directory removed) at the end. PostgreSQL refuses to run as root, so
as root it runs as the ``postgres`` system user (``runuser``) in a directory that user owns; MariaDB runs
with ``--user=root`` in that case. When a server's binaries are missing, its tests are skipped with the
package to install.

Fixtures: ``postgres_server`` / ``mariadb_server`` / ``redis_server`` (session) and ``postgres_url`` /
``mariadb_url`` (a fresh, empty database per test, dropped afterwards, as a SQLAlchemy URL).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.ports import LOOPBACK, free_tcp_port, wait_tcp_listening
from interop.process import LoggedProcess

START_TIMEOUT = 60.0


def _postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


class _Server:
    """A temporary directory plus one logged server process; `stop` removes both."""

    name = "server"
    stop_signal: signal.Signals | None = None  # sent before LoggedProcess's SIGINT, for servers ignoring it

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"sigcore-{self.name}-"))
        self.port = free_tcp_port()
        self.process: LoggedProcess | None = None

    def _start(self, argv: list[str], ready: str) -> None:
        self.process = LoggedProcess(argv, self.dir / f"{self.name}.log", cwd=self.dir)
        self.process.start()
        self.process.wait_for(ready, timeout=START_TIMEOUT)
        wait_tcp_listening(self.port, timeout=START_TIMEOUT)

    def stop(self) -> None:
        if self.process is not None:
            if self.stop_signal is not None and self.process.pid is not None and self.process.is_running():
                os.killpg(self.process.pid, self.stop_signal)
            self.process.stop(timeout=20.0)
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer(_Server):
    """``initdb`` + ``postgres`` with trust authentication for the test user, fsync off (speed, not safety)."""

    name = "postgres"
    user = "sigcore"

    def __init__(self, bindir: Path) -> None:
        super().__init__()
        self.bindir = bindir
        self.os_user = "postgres" if os.geteuid() == 0 else None
        if self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"

    def start(self) -> None:
        _run(_as_user(self.os_user, [str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                                     "--auth=trust", "-E", "UTF8", "--no-sync"]), "initdb")
        argv = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", LOOPBACK,
                "-k", str(self.dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200"]
        self._start(_as_user(self.os_user, argv), r"ready to accept connections")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


class MariaDBServer(_Server):
    """``mariadb-install-db`` + ``mariadbd --no-defaults``; a password user for TCP, root via the socket."""

    name = "mariadb"
    stop_signal = signal.SIGTERM  # mariadbd shuts down on SIGTERM, not SIGINT
    user = "sigcore"
    password = "sigcore-test"

    def start(self) -> None:
        data = self.dir / "data"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        _run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
              "--skip-test-db", *as_root], "mariadb-install-db")
        self.socket = self.dir / "mysqld.sock"
        argv = ["mariadbd", "--no-defaults", f"--datadir={data}", f"--port={self.port}",
                f"--bind-address={LOOPBACK}", f"--socket={self.socket}", f"--pid-file={self.dir / 'mysqld.pid'}",
                f"--tmpdir={self.dir}", "--skip-name-resolve", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2",
                "--innodb-buffer-pool-size=64M", "--max-connections=300", *as_root]
        self._start(argv, r"ready for connections")
        self.admin(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
        self.admin(f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'%'")

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{database}?charset=utf8mb4"

    def admin(self, sql: str) -> None:
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()


class RedisServer(_Server):
    name = "redis"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir)]
        self._start(argv, r"Ready to accept connections")

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


def _serve(server: _Server) -> Iterator[_Server]:
    try:
        server.start()  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None or not shutil.which("runuser"):
        pytest.skip("PostgreSQL server binaries absent (apt-get install postgresql)")
    yield from _serve(PostgresServer(bindir))  # type: ignore[misc]


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    if not (shutil.which("mariadbd") and shutil.which("mariadb-install-db")):
        pytest.skip("MariaDB server binaries absent (apt-get install mariadb-server)")
    yield from _serve(MariaDBServer())  # type: ignore[misc]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server absent (apt-get install redis-server)")
    yield from _serve(RedisServer())  # type: ignore[misc]


def _fresh_database(server: PostgresServer | MariaDBServer, create: str, drop: str) -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    server.admin(create.format(name=name))
    yield server.url(name)
    server.admin(drop.format(name=name))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    yield from _fresh_database(postgres_server, "CREATE DATABASE {name}", "DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> Iterator[str]:
    """An empty MariaDB database for one test."""
    yield from _fresh_database(
        mariadb_server, "CREATE DATABASE {name} CHARACTER SET utf8mb4", "DROP DATABASE IF EXISTS {name}"
    )
