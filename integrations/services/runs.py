"""What every kind of sync run shares: finishing it, once, with an audit row."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ledger.services import audit_record

from ..models import SyncRun
from ..signals import sync_run_finished


def run_finish(run: SyncRun, *, error: str = "") -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            return run
        if error:
            run.status, run.error = SyncRun.Status.FAILED, error
        else:
            run.status = SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            company=run.company_id,
            actor=None,
            action="sync_run.finish",
            subject=run,
            after={"status": run.status, "done": run.done, "failed": run.failed, "requests": run.requests, "error": error},
        )
        announce_run_finished(run.pk)
    return run


def announce_run_finished(run_id: int) -> None:
    """Tell the layers above that a run ended, once that has committed (signals only announce)."""
    transaction.on_commit(lambda: sync_run_finished.send(sender=SyncRun, run_id=run_id), robust=True)


def sync_run_fail(*, run_id: int, error: str) -> SyncRun:
    return run_finish(SyncRun.objects.get(pk=run_id), error=error)
