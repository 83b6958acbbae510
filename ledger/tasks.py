from celery import shared_task

from .models import Company
from .services import journal_entries_reflag


@shared_task(acks_late=True)
def reflag_entries(company_id: int) -> int:
    """Recompute the unbalanced flags of a company after a bulk load; safe to run twice."""
    return journal_entries_reflag(company=Company.objects.get(pk=company_id))
