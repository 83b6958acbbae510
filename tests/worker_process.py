"""A real Celery worker process on its own queue, for the fault tests (which SIGKILL and restart it)
and for ``bench_sync``. The same spawn as the ``celery_worker_process`` fixture of tests/conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    def __init__(self, *, visibility_timeout: int = 4, extra_env: dict | None = None):
        self.queue = f"test-{uuid.uuid4().hex[:10]}"
        self.visibility_timeout = visibility_timeout
        db = settings.DATABASES["default"]
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_QUEUE": self.queue,
            "CONN_MAX_AGE": "0",
            # Short, so that a killed worker's task is redelivered to its successor within the test.
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = ROOT / "test-artifacts" / f"worker-{self.queue}.log"

    def start(self) -> WorkerProcess:
        from celery import current_app  # this process's Celery app (closebooks'), as shared_task finds it

        return self._start(current_app)

    def start_on(self, broker_url: str) -> WorkerProcess:
        """Start, and wait for the worker through another broker than this process's own."""
        from celery import Celery

        return self._start(Celery(broker=broker_url, set_as_current=False))

    def _start(self, app) -> WorkerProcess:
        self.log.parent.mkdir(exist_ok=True)
        out = open(self.log, "a")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "closebooks",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                self.queue,
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
                "-n",
                f"{self.queue}@%h-{time.monotonic_ns()}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early; see {self.log}")
            for reply in app.control.ping(timeout=1.0) or []:
                ((worker, _),) = reply.items()
                queues = app.control.inspect(destination=[worker], timeout=1.0).active_queues() or {}
                if any(q["name"] == self.queue for q in queues.get(worker, [])):
                    return self
        self.stop()
        raise RuntimeError("celery worker did not come up within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no ack, no cleanup: what the OOM killer or a lost machine does."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def wait_for(predicate, *, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")
