"""Thin Celery tasks of the checklist."""

from __future__ import annotations

import logging

from celery import shared_task

from ledger.exceptions import LedgerError
from ledger.models import Company

from . import services
from .models import Builtin

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def daily() -> dict:
    """Beat (hourly; each part is idempotent): periods that ended get their checklist, tasks due
    on the next working day are told once, and the automatic steps are brought up to date."""
    made = told = moved = 0
    for company in Company.objects.all():
        try:
            made += len(services.checklists_open_ended(company=company))
            told += services.tasks_due_tomorrow_remind(company=company)
            moved += services.builtins_refresh_open(company=company)
        except LedgerError as exc:
            log.warning("checklist pass of %s: %s", company, exc.message)
    return {"checklists": made, "reminded": told, "steps_moved": moved}


@shared_task(acks_late=True)
def sync_step_refresh(company_id: int) -> int:
    """After a push run: the Sync step of each open checklist follows what is synced now (the
    Review step's checks are left to the hourly pass: they sum the whole history)."""
    company = Company.objects.filter(pk=company_id).first()
    return services.builtins_refresh_open(company=company, steps=[Builtin.SYNC]) if company else 0
