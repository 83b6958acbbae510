"""Listeners of what the lower layers announce (integrations, ledger never import closebooks).
Each only queues work: the signal is sent after commit, and the work runs in a Celery task."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from integrations.signals import connection_needs_reconnect, sync_run_finished

log = logging.getLogger(__name__)


@receiver(sync_run_finished, dispatch_uid="notifications.sync_run_finished")
def _sync_run_finished(sender, run_id: int, **kwargs) -> None:
    from . import tasks

    tasks.sync_run_finished.delay(run_id)


@receiver(connection_needs_reconnect, dispatch_uid="notifications.connection_needs_reconnect")
def _connection_needs_reconnect(sender, connection_id: int, message: str = "", **kwargs) -> None:
    from . import tasks

    tasks.connection_needs_reconnect.delay(connection_id, message)
