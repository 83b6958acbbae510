"""Thin Celery tasks: ids in, a service call, retries here. One task per sync run, never one
per entry (a task costs 1.5-2 ms here); the service works through the run in chunks."""

from __future__ import annotations

import logging

from celery import shared_task

from common.db_retry import DATABASE_ERRORS, retry_on_database_error

from . import services
from .exceptions import IntegrationError, SyncRetryLater
from .models import Connection

log = logging.getLogger(__name__)

PUSH_MAX_RETRIES = 8


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=PUSH_MAX_RETRIES)
def push_run(self, run_id: int) -> str:
    """Push one sync run. acks_late + reject_on_worker_lost: a worker killed mid-run leaves the
    message in Redis, it is delivered again, and the run resumes from its outbox (keys kept).
    A database restart mid-run is retried the same way (DATABASE_ERRORS): the outbox keeps each
    sent batch's key, so the retry resends it with the key and the vendor answers from its record."""
    try:
        run = services.sync_run_execute(run_id=run_id)
    except SyncRetryLater as exc:
        if self.request.retries >= PUSH_MAX_RETRIES:
            return services.sync_run_fail(run_id=run_id, error=f"Gave up after repeated vendor errors: {exc}").status
        raise self.retry(countdown=services.backoff(self.request.retries + 3) + 5) from None
    except DATABASE_ERRORS as exc:
        retry_on_database_error(self, exc)
        return services.sync_run_fail(run_id=run_id, error=f"Gave up: the database stayed unavailable ({exc}).").status
    return run.status


@shared_task(acks_late=True)
def pull_closed_dates() -> int:
    """Beat: pull the closed date of every active connection (IN5, BC7)."""
    pulled = 0
    for connection in Connection.objects.filter(status=Connection.Status.ACTIVE):
        try:
            run = services.closed_date_pull(connection=connection)
        except Exception:  # noqa: BLE001 - one company's failure never stops the others' pull; logged with its trace
            log.exception("pulling the closed date of connection %s failed", connection.pk)
            continue
        pulled += run.status == run.Status.SUCCEEDED
    return pulled


@shared_task(acks_late=True)
def pull_inbound() -> int:
    """Beat: pull the transactions made in each active connection's system (IN6, BC6). For
    QuickBooks Desktop this queues the queries for its Web Connector's next poll (one pull waits
    at a time), so the count returned covers the other vendors."""
    pulled = 0
    for connection in Connection.objects.filter(status=Connection.Status.ACTIVE):
        try:
            run = services.inbound_pull(connection=connection)
        except Exception:  # noqa: BLE001 - one company's failure never stops the others' pull; logged with its trace
            log.exception("pulling inbound transactions of connection %s failed", connection.pk)
            continue
        pulled += run.done
    return pulled


@shared_task(acks_late=True)
def pull_inbound_connection(connection_id: int) -> int:
    """Pull one connection's inbound transactions now (IN6, BC6): the beat's pull for one company,
    for an explicit request and the inbound benchmark. Returns how many were imported."""
    connection = Connection.objects.filter(pk=connection_id, status=Connection.Status.ACTIVE).first()
    if connection is None:
        return 0
    return services.inbound_pull(connection=connection).done


@shared_task(acks_late=True)
def pull_accounts(connection_id: int) -> int:
    try:
        return services.accounts_pull(connection=Connection.objects.get(pk=connection_id), actor=None)
    except IntegrationError as exc:
        log.warning("pulling accounts of connection %s failed: %s", connection_id, exc.message)
        return 0


@shared_task(acks_late=True)
def resume_stalled_runs() -> int:
    """Beat: enqueue again the runs whose worker died (the run lock keeps them single)."""
    stalled = services.sync_runs_stalled()
    for run_id in stalled:
        push_run.delay(run_id)
    return len(stalled)
