"""A throwaway PostgreSQL server for tests, from Debian's postgresql package.

Usage in a conftest.py:

    from tests.support.postgres import postgres_server  # noqa: F401  (session fixture)

    def test_x(postgres_server):
        url = postgres_server.create_database("x")  # SQLAlchemy URL of a fresh database

The server listens on 127.0.0.1 on a free port, keeps its data in a temporary
folder, trusts local connections, and is stopped and deleted at the end of
the session. As root it runs as the `postgres` user (PostgreSQL refuses to run
as root). If the binaries are missing and we are root, `apt-get install -y
postgresql` is run once.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

_START_ATTEMPTS = 3


def find_bin_dir() -> Optional[Path]:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    candidates = [
        p for p in Path("/usr/lib/postgresql").glob("*/bin")
        if (p / "initdb").exists() and (p / "pg_ctl").exists()
    ]
    if not candidates:
        found = shutil.which("initdb")
        return Path(found).parent if found and shutil.which("pg_ctl") else None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def ensure_installed() -> Path:
    bin_dir = find_bin_dir()
    if bin_dir is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
        bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (install Debian's postgresql package)")
    return bin_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_user() -> Optional[str]:
    """The account to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no postgres/nobody account to run PostgreSQL as")


@dataclass
class PostgresServer:
    bin_dir: Path
    base_dir: Path
    port: int
    run_as: Optional[str]
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """Create a fresh, uniquely named database and return its URL."""
        import psycopg2  # local: only needed when a server is in use

        name = f"{prefix}_{uuid.uuid4().hex[:10]}".lower()
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def _command(self, *args: str) -> List[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(self._command(*args), env=env, capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        done = self.run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", "60", "-o", options, "start",
        )
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{log[-2000:]}")

    def halt(self) -> None:
        """Stop the server but keep its data, as an outage or a restart would."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.data_dir.exists():
            self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb a temporary cluster and start it on a free port (retrying if the port is taken)."""
    bin_dir = ensure_installed()
    run_as = _run_user()
    base_dir = Path(tempfile.mkdtemp(prefix="test-pg-"))  # under /tmp: reachable by the run_as user
    if run_as:
        shutil.chown(base_dir, user=run_as)
    server = PostgresServer(bin_dir, base_dir, free_port(), run_as)
    atexit.register(server.stop)  # in case the session dies before teardown
    done = server.run(
        str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "postgres", "-A", "trust",
        "-E", "UTF8", "--locale=C", "--no-sync",
    )
    if done.returncode != 0:
        server.stop()
        raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
    for attempt in range(_START_ATTEMPTS):
        try:
            server.start()
            return server
        except RuntimeError:
            if attempt == _START_ATTEMPTS - 1:
                server.stop()
                raise
            server.port = free_port()
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running throwaway PostgreSQL server shared by the whole test session."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
