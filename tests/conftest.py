import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from tests import factories

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the same
# test are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Property tests explore new cases on a developer's machine; CI (CI=true) replays a fixed set, so a red
# CI run is reproducible and never depends on the luck of the draw.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        raise pytest.UsageError(
            "closebooks tests run against PostgreSQL only. Run them with `make test`, or set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/closebooks."
        )
    _check_vendor_contracts_on_every_request()


# ---------------------------------------------------------------- vendor contracts (issue 22)


def _check_vendor_contracts_on_every_request():
    """Every request a provider client sends in a test is checked against the vendor's published
    schema before it leaves (integrations.contracts); the fakes check what they receive as well."""
    import httpx

    from integrations import contracts

    original = httpx.Client.send

    def send(self, request, **kwargs):
        if not contracts.sending_on_purpose():
            contracts.check_http(
                request.method, request.url.path, dict(request.url.params), dict(request.headers), request.read() or None
            )
        return original(self, request, **kwargs)

    httpx.Client.send = send


@pytest.fixture(autouse=True)
def vendor_contracts():
    """A test during which any request broke a vendor's contract fails, even if the code under test
    swallowed the error (a task recording it as a run error, a fake answering 400)."""
    from integrations import contracts

    start = len(contracts.VIOLATIONS)
    yield
    broken = contracts.VIOLATIONS[start:]
    if broken:
        del contracts.VIOLATIONS[start:]
        pytest.fail("Requests that break a vendor's published contract:\n" + "\n".join(broken), pytrace=False)


@pytest.fixture
def company(db):
    return factories.CompanyFactory()


@pytest.fixture
def other_company(db):
    return factories.CompanyFactory()


@pytest.fixture
def member(db):
    """member(company, role) -> a user holding ``role`` in ``company`` through the role service."""

    def make(company, role, **user_kwargs):
        return factories.member(company, role, **user_kwargs)

    return make


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------- a real Celery worker


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real ``celery worker`` process on real Redis, reading the test database.

    Each use gets its own queue, so concurrent test runs on this machine never share work."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: the worker tests need Redis (run `make test`).")
    queue = f"test-{uuid.uuid4().hex[:10]}"
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
        "CONN_MAX_AGE": "0",
    }
    proc = subprocess.Popen(
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
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    from closebooks.celery import app

    deadline = time.monotonic() + 60
    name = None
    while time.monotonic() < deadline and name is None:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited early:\n{proc.stdout.read()}")
        replies = app.control.ping(timeout=1.0) or []
        for reply in replies:
            ((worker, _),) = reply.items()
            stats = app.control.inspect(destination=[worker], timeout=1.0).active_queues() or {}
            if any(q["name"] == queue for q in stats.get(worker, [])):
                name = worker
    if name is None:
        proc.kill()
        pytest.fail("celery worker did not come up within 60 s")
    try:
        yield {"queue": queue, "process": proc, "name": name}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
