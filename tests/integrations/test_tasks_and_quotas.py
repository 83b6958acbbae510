"""Global quotas in Redis (IN4), the beat schedule and its tasks (IN5), stalled-run recovery."""

import uuid
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from integrations import ratelimit, tasks
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import Connection, SyncRun
from integrations.services import sync_run_start

pytestmark = pytest.mark.django_db


def test_quota_is_shared_by_every_limiter_on_the_same_redis():
    """Two limiter instances (as two workers would hold) count against one window."""
    key = f"closebooks:test:{uuid.uuid4().hex}"
    first, second = ratelimit.RedisLimiter(settings.REDIS_URL), ratelimit.RedisLimiter(settings.REDIS_URL)
    assert [first.try_acquire([key], [3]), second.try_acquire([key], [3]), first.try_acquire([key], [3])] == [0, 0, 0]
    wait = second.try_acquire([key], [3])
    assert 0 < wait <= ratelimit.WINDOW + ratelimit.MARGIN


def test_a_request_counts_against_all_its_buckets_or_none():
    calls, batch = f"closebooks:test:{uuid.uuid4().hex}", f"closebooks:test:{uuid.uuid4().hex}"
    limiter = ratelimit.RedisLimiter(settings.REDIS_URL)
    assert limiter.try_acquire([calls, batch], [5, 1]) == 0
    assert limiter.try_acquire([calls, batch], [5, 1]) > 0  # batch bucket full: nothing recorded in calls
    assert [limiter.try_acquire([calls], [5]) for _ in range(4)] == [0, 0, 0, 0]
    assert limiter.try_acquire([calls], [5]) > 0


def test_memory_limiter_for_the_embedded_default():
    limiter = ratelimit.MemoryLimiter()
    assert limiter.try_acquire(["k"], [1]) == 0 and limiter.try_acquire(["k"], [1]) > 0


def test_beat_schedule_pulls_closed_dates_and_resumes_stalled_runs():
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"integrations.tasks.pull_closed_dates", "integrations.tasks.resume_stalled_runs"} <= tasks_scheduled
    assert tasks.push_run.acks_late and tasks.push_run.reject_on_worker_lost
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= 6 * 3600


def test_pull_closed_dates_task_records_each_active_connection(company):
    from tests.integrations.factories import connect_to_fake

    with FakeQuickBooksOnline(book_close_date=date(2026, 4, 30)) as fake:
        conn = connect_to_fake(company, fake, chart=False, map_accounts=False)
        assert tasks.pull_closed_dates() == 1
    conn.refresh_from_db()
    assert conn.remote_closed_date == date(2026, 4, 30)
    assert SyncRun.objects.get(kind=SyncRun.Kind.CLOSED_DATE).status == SyncRun.Status.SUCCEEDED


def test_closed_date_pull_from_a_dead_vendor_is_a_failed_run_not_an_exception(company):
    from tests.integrations.factories import connect_to_fake

    with FakeQuickBooksOnline() as fake:
        conn = connect_to_fake(company, fake, chart=False, map_accounts=False)
        fake.revoke()
        assert tasks.pull_closed_dates() == 0
    run = SyncRun.objects.get(kind=SyncRun.Kind.CLOSED_DATE)
    assert run.status == SyncRun.Status.FAILED and "connect again" in run.error
    assert Connection.objects.get(pk=conn.pk).status == Connection.Status.BROKEN


def test_stalled_runs_are_enqueued_again(company, monkeypatch):
    from tests.integrations.factories import connect_to_fake, post_entries

    with FakeQuickBooksOnline() as fake:
        connect_to_fake(company, fake)
        post_entries(company, 1)
        run = sync_run_start(company=company, actor=None, enqueue=False)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    sent = []
    monkeypatch.setattr(tasks.push_run, "delay", lambda run_id: sent.append(run_id))
    assert tasks.resume_stalled_runs() == 1 and sent == [run.pk]


def test_quota_store_outage_waits_then_gives_the_run_back(monkeypatch):
    """Redis unreachable: nothing is sent unchecked; short outages are waited out, long ones raise
    a transient error (the task retries later)."""
    from integrations.providers.base import TransientError

    answers = iter([ConnectionError("down"), ConnectionError("down"), 0.0])

    class Flaky:
        def try_acquire(self, keys, limits):
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer

    monkeypatch.setattr(ratelimit, "limiter", lambda: Flaky())
    slept = []
    assert ratelimit.acquire("qbo", "t", [("calls", 500)], sleep=slept.append) > 0 and len(slept) == 2

    class Down:
        def try_acquire(self, keys, limits):
            raise ConnectionError("down")

    monkeypatch.setattr(ratelimit, "limiter", lambda: Down())
    with pytest.raises(TransientError, match="unreachable"):
        ratelimit.acquire("qbo", "t", [("calls", 500)], sleep=lambda s: None)
