"""Thin Celery tasks: ids in, a service call, retries here."""

from __future__ import annotations

from celery import shared_task

from ledger.models import Company

from . import services

EMAIL_RETRY_BASE = 60  # seconds; doubled on each retry: 1, 2, 4, 8, 16 minutes


@shared_task(bind=True, acks_late=True, max_retries=services.EMAIL_MAX_ATTEMPTS - 1)
def send_notification_email(self, notification_id: int) -> str:
    """Send one notification's email; a refusal of the mail server is retried with backoff
    (each attempt is recorded on the notification; after the last one it is marked failed)."""
    try:
        n = services.notification_email_send(notification_id=notification_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            services.notification_email_give_up(notification_id=notification_id, error=f"{type(exc).__name__}: {exc}")
            return "failed"
        raise self.retry(countdown=EMAIL_RETRY_BASE * 2**self.request.retries) from None
    return n.email if n is not None else "gone"


@shared_task(acks_late=True)
def resend_pending_emails() -> int:
    """Beat: emails whose task was lost (broker down when the action committed) are queued again."""
    pending = services.emails_pending()
    for pk in pending:
        send_notification_email.delay(pk)
    return len(pending)


@shared_task(acks_late=True, max_retries=3)
def sync_run_finished(run_id: int) -> int:
    return len(services.sync_run_problem_notify(run_id=run_id))


@shared_task(acks_late=True, max_retries=3)
def connection_needs_reconnect(connection_id: int, message: str) -> int:
    return len(services.connection_reconnect_notify(connection_id=connection_id, message=message))


@shared_task(acks_late=True)
def watch_checks() -> int:
    """Beat: tell managers about month-end checks that started failing."""
    told = 0
    for company in Company.objects.all():
        told += len(services.checks_watch(company=company))
    return told
