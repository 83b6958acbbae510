"""Redis restarted during a run (IN4). Uses a private redis-server on a free port, never the
shared one: the worker, its broker and the quota counters all live on the private server."""

import shutil
import time

import pytest
from kombu import Connection as BrokerConnection

from integrations import services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import SyncRun
from integrations.tasks import push_run
from tests.integrations.factories import connect_to_fake, post_entries
from tests.private_services import PrivateRedis
from tests.worker_process import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    server = PrivateRedis().start()
    yield server
    server.stop()


def test_redis_restarted_during_a_run(company, redis_server):
    with FakeQuickBooksOnline(latency=0.25) as fake:
        connect_to_fake(company, fake)
        entries = post_entries(company, 300)
        worker = WorkerProcess(visibility_timeout=3600, extra_env={"REDIS_URL": redis_server.url}).start_on(redis_server.url)
        try:
            run = services.sync_run_start(company=company, actor=None, enqueue=False)
            with BrokerConnection(redis_server.url) as broker:
                push_run.apply_async(args=[run.pk], queue=worker.queue, connection=broker)
            wait_for(lambda: fake.entries_by_local(), timeout=60)
            redis_server.stop()  # broker, results and quota counters gone, mid-run
            time.sleep(1)
            redis_server.start()
            run = wait_for(lambda: (r := SyncRun.objects.get(pk=run.pk)).is_finished and r, timeout=120, step=0.25)
        finally:
            worker.stop()
    assert run.status == SyncRun.Status.SUCCEEDED and run.done == 300
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}
