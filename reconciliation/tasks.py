"""Thin Celery tasks: look the proposal up, call the service, report progress through the result backend.

Both are all-or-nothing in the database (one transaction), run with acks_late: a worker killed
mid-way leaves no half-written reconciliation and the message is delivered again to the next
worker; a database restart mid-way is retried with backoff, and a proposal whose database stayed
away records why on itself (the page shows ``error``)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from common.db_retry import DATABASE_ERRORS, retry_on_database_error

from .models import Proposal
from .services import proposal_build, proposal_finish


def _gave_up(proposal_id: int, exc: Exception) -> dict:
    message = f"Stopped: the database stayed unavailable ({type(exc).__name__}). Nothing was reconciled; try again."
    Proposal.objects.filter(pk=proposal_id).update(error=message)
    return {"status": "failed", "error": message}


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def build_proposal(self, proposal_id: int) -> dict:
    """Safe to run twice: a proposal that is no longer building is returned as it is."""
    try:
        proposal = proposal_build(
            proposal=Proposal.objects.get(pk=proposal_id),
            progress=lambda stage, percent: self.update_state(state="PROGRESS", meta={"stage": stage, "percent": percent}),
        )
    except DATABASE_ERRORS as exc:
        retry_on_database_error(self, exc)
        return _gave_up(proposal_id, exc)
    return {"status": proposal.status, "stats": proposal.stats}


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def finish_proposal(self, proposal_id: int, user_id: int | None) -> dict:
    """Safe to run twice: a finished proposal is a no-op (the service re-checks under a lock)."""
    try:
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        proposal = proposal_finish(
            proposal=Proposal.objects.get(pk=proposal_id),
            actor=user,
            progress=lambda stage, percent: self.update_state(state="PROGRESS", meta={"stage": stage, "percent": percent}),
        )
    except DATABASE_ERRORS as exc:
        retry_on_database_error(self, exc)
        return _gave_up(proposal_id, exc)
    return {"status": proposal.status, "stats": proposal.stats}
