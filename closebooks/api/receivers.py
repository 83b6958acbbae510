"""Webhooks for what the lower layers announce (they never import closebooks). The signals are
sent after commit; recording the deliveries is quick, the sending runs in Celery."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from integrations.signals import sync_run_finished
from ledger.signals import books_closed_date_moved

from . import services

log = logging.getLogger(__name__)


@receiver(books_closed_date_moved, dispatch_uid="api.books_closed_date_moved")
def _books_closed_moved(sender, company_id: int, entity_key: str, before, after, source: str, source_name: str, **kwargs):
    services.webhook_emit(
        company_id=company_id,
        event="books_closed.moved",
        data={"entity": entity_key or None, "before": before, "closed_date": after, "source": source, "source_name": source_name},
    )


@receiver(sync_run_finished, dispatch_uid="api.sync_run_finished")
def _sync_run_finished(sender, run_id: int, **kwargs):
    from integrations.models import SyncRun

    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    services.webhook_emit(
        company_id=run.company_id,
        event="sync_run.finished",
        data={
            "run": run.pk,
            "kind": run.kind,
            "status": run.status,
            "total": run.total,
            "done": run.done,
            "failed": run.failed,
            "error": run.error,
            "period_start": run.period_start.isoformat() if run.period_start else None,
            "period_end": run.period_end.isoformat() if run.period_end else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
    )
