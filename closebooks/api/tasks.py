"""Webhook deliveries: one task per delivery, retried with exponential backoff (AP2)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services
from .models import WebhookDelivery

WEBHOOK_MAX_RETRIES = 7
WEBHOOK_RETRY_BASE = 30  # seconds, doubled each time: 30 s, 1, 2, 4, 8, 16, 32 min (about an hour in all)


@shared_task(bind=True, acks_late=True, max_retries=WEBHOOK_MAX_RETRIES)
def deliver_webhook(self, delivery_id: int) -> str:
    final = self.request.retries >= self.max_retries
    try:
        return services.webhook_deliver(delivery_id=delivery_id, final=final).status
    except services.DeliveryFailed:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # In process (`make run`) a retry would run at once, inside the request that caused the
            # event: one try there, and the sweep tries again later.
            return WebhookDelivery.Status.PENDING
        raise self.retry(countdown=WEBHOOK_RETRY_BASE * 2**self.request.retries) from None


@shared_task(acks_late=True)
def resend_stale_webhooks() -> int:
    """Beat: deliveries still pending long after their series of tries would have ended (the task
    was lost, or it ran in process) get one last try."""
    cutoff = timezone.now() - timedelta(hours=3)
    stale = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)[
            :500
        ]
    )
    for pk in stale:
        try:
            services.webhook_deliver(delivery_id=pk, final=True)
        except services.DeliveryFailed:
            pass
    return len(stale)
