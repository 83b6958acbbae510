"""Private PostgreSQL and Redis servers for the fault tests (IN4): each started by the test on a
free loopback port in a temporary directory, so a test may stop and restart it at will. The
machine's shared servers are never touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.worker_process import wait_for

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        found = str(versions[-1]) if versions else None
    if found is None:
        raise RuntimeError(f"{name} is not installed: the PostgreSQL fault test needs the server binaries.")
    return found


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True).stdout.strip()  # noqa: S607
                == "PONG"
            ),
            timeout=20,
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


class PrivatePostgres:
    """A throw-away cluster: initdb in a temp dir, trust auth on 127.0.0.1, one database."""

    def __init__(self, dbname: str = "closebooks_private"):
        self.port = free_port()
        self.dbname = dbname
        self.dir = Path(tempfile.mkdtemp(prefix="closebooks-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.user = "postgres"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        args = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root: run them as postgres
            shutil.chown(self.dir, "postgres")
            args = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(args, check=True, capture_output=True, env=env)  # noqa: S603 - fixed arguments

    def init(self) -> PrivatePostgres:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=40"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: every client connection is cut, as when the server is restarted."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def create_database(self) -> PrivatePostgres:
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.dbname)
        return self

    def migrate(self) -> PrivatePostgres:
        """The schema and the rows migrations create (content types, permissions), by ``migrate``."""
        env = {**os.environ, "DATABASE_URL": self.url, "CONN_MAX_AGE": "0"}
        subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
            [os.sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        return self

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
