"""PostgreSQL restarted during a sync (issue 9 part 5, IN4). The test starts its own cluster
(initdb + pg_ctl on a free port in a temp dir: tests/private_services.py), points this process
and a real Celery worker at it, and restarts it while the worker is pushing. The task retries on
the database error with backoff; the run resumes from its outbox, resending the batch that was in
flight with its stored key: the vendor ends with every entry exactly once."""

import time

import pytest
from django.conf import settings
from django.db import connections

from integrations import services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import SyncRun
from integrations.tasks import push_run
from tests.factories import CompanyFactory
from tests.integrations.factories import connect_to_fake, post_entries
from tests.private_services import PrivatePostgres
from tests.worker_process import WorkerProcess, wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def private_postgres(django_db_blocker):
    """This process's default database, for the test's duration, is a private cluster."""
    server = PrivatePostgres().init().start().create_database().migrate()
    configured = [settings.DATABASES["default"], connections["default"].settings_dict]
    saved = [{key: d[key] for key in ("HOST", "PORT", "NAME")} for d in configured]
    connections["default"].close()
    for d in configured:
        d.update(HOST="127.0.0.1", PORT=str(server.port), NAME=server.dbname)
    try:
        with django_db_blocker.unblock():
            yield server
    finally:
        connections["default"].close()
        for d, values in zip(configured, saved, strict=True):
            d.update(values)
        server.destroy()


def finished(run_id):
    try:
        run = SyncRun.objects.get(pk=run_id)
    except Exception:  # noqa: BLE001 - the server may still be coming back: ask again
        connections["default"].close()
        return None
    return run if run.is_finished else None


def test_postgres_restarted_during_a_sync_loses_and_duplicates_nothing(private_postgres):
    company = CompanyFactory()
    with FakeQuickBooksOnline(latency=0.3) as fake:
        connect_to_fake(company, fake)
        entries = post_entries(company, 300)
        worker = WorkerProcess().start()
        try:
            assert worker.env["DATABASE_URL"].endswith(f":{private_postgres.port}/{private_postgres.dbname}")
            run = services.sync_run_start(company=company, actor=None, enqueue=False)
            push_run.apply_async(args=[run.pk], queue=worker.queue)
            wait_for(lambda: fake.entries_by_local(), timeout=90)
            connections["default"].close()
            private_postgres.stop()  # every connection cut while a batch is in flight
            time.sleep(2)
            private_postgres.start()
            run = wait_for(lambda: finished(run.pk), timeout=240, step=0.5)
        finally:
            worker.stop()
        log = worker.log.read_text()
    assert "database unavailable" in log  # the task met the restart and retried
    assert run.status == SyncRun.Status.SUCCEEDED and run.done == 300 and run.failed == 0
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}
