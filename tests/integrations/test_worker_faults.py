"""Fault tests with real parts (IN4): a real Celery worker on real Redis against a fake vendor over
loopback. Killed with SIGKILL mid-batch and restarted, a 429 storm, a token expiring mid-run, a
vendor rejecting a closed period. Each time the vendor holds every entry exactly once."""

import time
from datetime import date

import pytest

from integrations import services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import OutboxEntry, SyncRun
from integrations.tasks import push_run
from tests.integrations.factories import connect_to_fake, post_entries
from tests.worker_process import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(transactional_db):
    process = WorkerProcess().start()
    yield process
    process.stop()


def start_run(company, worker):
    run = services.sync_run_start(company=company, actor=None, enqueue=False)
    push_run.apply_async(args=[run.pk], queue=worker.queue)
    return run


def finished(run):
    run.refresh_from_db()
    return run if run.is_finished else None


def test_worker_killed_mid_batch_and_restarted_leaves_each_entry_exactly_once(company, fake, worker):
    """SIGKILL while the vendor has saved a batch whose answer is still on its way; the restarted
    worker gets the task again (acks_late), resends that batch with its stored key, and the vendor
    replays its original answer: nothing missing, nothing twice."""
    connect_to_fake(company, fake)
    entries = post_entries(company, 240)
    fake.latency = 0.4  # each write is saved, then answered 0.4 s later
    run = start_run(company, worker)
    wait_for(
        lambda: sum(fake.entries_by_local().values()) >= 2 * (30 if isinstance(fake, FakeQuickBooksOnline) else 50), timeout=60
    )
    worker.kill()
    run.refresh_from_db()
    assert not run.is_finished
    keyed = OutboxEntry.objects.filter(run=run, state=OutboxEntry.State.PENDING).exclude(request_key="")
    assert keyed.exists()  # a batch was in flight: saved at the vendor, not yet recorded here
    fake.latency = 0.0
    # The successor restores unacknowledged messages older than the visibility timeout when it
    # starts polling; wait that long so the killed worker's task is among them.
    time.sleep(worker.visibility_timeout + 1)
    successor = WorkerProcess(visibility_timeout=4)
    successor.queue, successor.env = worker.queue, worker.env
    successor.start()
    try:
        run = wait_for(lambda: finished(run), timeout=120, step=0.25)
    finally:
        successor.stop()
    assert run.status == SyncRun.Status.SUCCEEDED and run.done == 240
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_429_storm_is_waited_out(company, fake, worker):
    connect_to_fake(company, fake)
    entries = post_entries(company, 100)
    target = "batch" if isinstance(fake, FakeQuickBooksOnline) else "ManualJournals"
    fake.inject(
        target,
        429,
        {"Fault": {"Error": [{"Message": "ThrottleExceeded", "code": "003001"}]}},
        headers={"Retry-After": "1"},
        times=8,
    )
    run = start_run(company, worker)
    run = wait_for(lambda: finished(run), timeout=120, step=0.25)
    assert run.status == SyncRun.Status.SUCCEEDED and run.requests >= 8 + 2
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_token_expiring_mid_run_is_refreshed(company, fake, worker):
    connect_to_fake(company, fake)
    entries = post_entries(company, 150)
    fake.latency = 0.1
    run = start_run(company, worker)
    wait_for(lambda: fake.entries_by_local(), timeout=60)
    fake.expire_access_tokens()
    run = wait_for(lambda: finished(run), timeout=120, step=0.25)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}
    assert len(fake.received("POST", "token")) == 1


def test_vendor_rejecting_a_closed_period(company, fake, worker):
    connect_to_fake(company, fake)
    open_entries = post_entries(company, 5, entry_date=date(2026, 2, 10))
    closed = post_entries(company, 3, entry_date=date(2026, 1, 10))
    if isinstance(fake, FakeQuickBooksOnline):
        fake.book_close_date = date(2026, 1, 31)
    else:
        fake.period_lock_date = date(2026, 1, 31)
    run = start_run(company, worker)
    run = wait_for(lambda: finished(run), timeout=120, step=0.25)
    assert run.status == SyncRun.Status.PARTIAL and (run.done, run.failed) == (5, 3)
    assert {i.entry_id for i in run.issues.filter(code="closed_period")} == {e.pk for e in closed}
    assert fake.entries_by_local() == {e.pk: 1 for e in open_entries}
