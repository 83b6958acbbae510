"""A finished sync may complete (or reopen) a period's Sync step: checked in a task."""

from django.dispatch import receiver

from integrations.signals import sync_run_finished


@receiver(sync_run_finished, dispatch_uid="checklist.sync_run_finished")
def _sync_run_finished(sender, run_id: int, **kwargs) -> None:
    from integrations.models import SyncRun

    from . import tasks

    run = SyncRun.objects.filter(pk=run_id, kind=SyncRun.Kind.PUSH).values_list("company_id", flat=True).first()
    if run is not None:
        tasks.sync_step_refresh.delay(run)
