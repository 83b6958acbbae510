"""Thin Celery tasks: look the proposal up, call the service, report progress through the result backend."""

from celery import shared_task
from django.contrib.auth import get_user_model

from .models import Proposal
from .services import proposal_build, proposal_finish


@shared_task(bind=True, acks_late=True)
def build_proposal(self, proposal_id: int) -> dict:
    """Safe to run twice: a proposal that is no longer building is returned as it is."""
    proposal = proposal_build(
        proposal=Proposal.objects.get(pk=proposal_id),
        progress=lambda stage, percent: self.update_state(state="PROGRESS", meta={"stage": stage, "percent": percent}),
    )
    return {"status": proposal.status, "stats": proposal.stats}


@shared_task(bind=True, acks_late=True)
def finish_proposal(self, proposal_id: int, user_id: int | None) -> dict:
    """Safe to run twice: a finished proposal is a no-op (the service re-checks under a lock)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    proposal = proposal_finish(
        proposal=Proposal.objects.get(pk=proposal_id),
        actor=user,
        progress=lambda stage, percent: self.update_state(state="PROGRESS", meta={"stage": stage, "percent": percent}),
    )
    return {"status": proposal.status, "stats": proposal.stats}
