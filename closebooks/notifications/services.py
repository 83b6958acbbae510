"""Writers of notifications. ``notify`` runs inside the action's transaction: it writes the
in-app rows the recipients want and, after commit, hands each wanted email to a Celery task
(retried with backoff there). A broker that is down or a mail server that refuses never undoes
or blocks the action: the email stays pending and the beat's sweep sends it later."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger import roles
from ledger.models import Company, Membership

from .models import CheckWatch, Notification, NotificationPreference

log = logging.getLogger(__name__)

EMAIL_MAX_ATTEMPTS = 6


def preferences_for(users: Iterable, kind: str) -> dict[int, tuple[bool, bool]]:
    """user id -> (in app, by email) for ``kind``; both on where the user chose nothing."""
    ids = [u.pk for u in users]
    chosen = {p.user_id: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user_id__in=ids, kind=kind)}
    return {pk: chosen.get(pk, (True, True)) for pk in ids}


def members_with(company: Company, perm: str) -> list:
    """Active members of ``company`` whose role grants ``perm``."""
    wanted = {role for role, perms in roles.ROLE_PERMISSIONS.items() if perm in perms}
    User = get_user_model()
    return list(
        User.objects.filter(memberships__company=company, memberships__role__in=wanted, is_active=True).order_by("pk").distinct()
    )


def notify(
    *, company: Company, users: Iterable, kind: str, title: str, body: str = "", link: str = "", dedupe_key: str = ""
) -> list[Notification]:
    """Tell ``users`` (members of ``company`` only) about something that happened, as each chose
    for ``kind``. ``dedupe_key`` makes it once per user (a reminder run again tells nobody twice)."""
    if kind not in Notification.Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    unique = {u.pk: u for u in users if u is not None and u.is_active}
    members = set(Membership.objects.filter(company=company, user_id__in=unique).values_list("user_id", flat=True))
    recipients = [u for pk, u in unique.items() if pk in members]
    made = []
    for user in recipients:
        in_app, by_email = preferences_for([user], kind)[user.pk]
        if not in_app and not by_email:
            continue
        email_state = Notification.Email.PENDING if by_email and user.email else Notification.Email.NOT_WANTED
        fields = dict(
            user=user,
            company=company,
            kind=kind,
            title=" ".join(title.split())[:300],  # one line: it is an email subject too
            body=body,
            link=link[:500],
            in_app=in_app,
            email=email_state,
            dedupe_key=dedupe_key[:120],
        )
        if dedupe_key:
            if Notification.objects.filter(user=user, dedupe_key=fields["dedupe_key"]).exists():
                continue
            try:
                with transaction.atomic():
                    notification = Notification.objects.create(**fields)
            except IntegrityError:
                continue  # told already, by a run beside this one
        else:
            notification = Notification.objects.create(**fields)
        made.append(notification)
    to_send = [n.pk for n in made if n.email == Notification.Email.PENDING]
    if to_send:
        transaction.on_commit(lambda: _enqueue_emails(to_send), robust=True)
    return made


EMAIL_TASK = "closebooks.notifications.tasks.send_notification_email"  # by name: the tasks import this module


def _enqueue_emails(ids: list[int]) -> None:
    send = current_app.tasks[EMAIL_TASK]
    for pk in ids:
        try:
            send.delay(pk)
        except Exception:  # the broker is down: the sweep sends it later, the action stands
            log.warning("notification %s: could not queue its email; the sweep will send it", pk, exc_info=True)


def _absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + link


def notification_email_send(*, notification_id: int) -> Notification | None:
    """Send one pending email. Raises the mail backend's error after recording the attempt (the
    task retries); a sent or unwanted one is left alone, so a duplicate delivery sends nothing."""
    failure: Exception | None = None
    with transaction.atomic():
        n = Notification.objects.select_for_update().select_related("user", "company").filter(pk=notification_id).first()
        if n is None or n.email != Notification.Email.PENDING:
            return n
        n.email_attempts += 1
        body = "\n\n".join(part for part in (n.body, _absolute(n.link)) if part)
        body += f"\n\n-- \n{n.company.name} · closebooks. Choose what you are told: {_absolute('/notifications/settings/')}"
        message = EmailMessage(subject=n.title, body=body, to=[n.user.email])
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # any backend's refusal: recorded, then raised for the task to retry
            failure = exc
            n.email_error = f"{type(exc).__name__}: {exc}"[:1000]
            if n.email_attempts >= EMAIL_MAX_ATTEMPTS:
                n.email = Notification.Email.FAILED
        else:
            n.email, n.emailed_at, n.email_error = Notification.Email.SENT, timezone.now(), ""
        n.save(update_fields=["email", "emailed_at", "email_error", "email_attempts"])
    if failure is not None:
        raise failure
    return n


def notification_email_give_up(*, notification_id: int, error: str) -> None:
    Notification.objects.filter(pk=notification_id, email=Notification.Email.PENDING).update(
        email=Notification.Email.FAILED, email_error=error[:1000]
    )


def emails_pending(*, older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Emails still pending after ``older_than`` (their task was lost or is between retries too long)."""
    cutoff = timezone.now() - older_than
    return list(
        Notification.objects.filter(email=Notification.Email.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)[:500]
    )


@transaction.atomic
def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


@transaction.atomic
def preferences_save(*, user, choices: dict[str, tuple[bool, bool]]) -> None:
    """Store ``user``'s choice per kind: (in app, by email)."""
    for kind, (in_app, email) in choices.items():
        if kind not in Notification.Kind.values:
            raise ValueError(f"unknown notification kind {kind!r}")
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"in_app": in_app, "email": email})


# ---------------------------------------------------------------- what the lower layers announce


def sync_run_problem_notify(*, run_id: int) -> list[Notification]:
    """A sync run that failed, or finished leaving per-entry errors: told to those who sync."""
    from django.urls import reverse

    from integrations.models import SyncRun

    run = SyncRun.objects.select_related("company", "connection", "created_by").filter(pk=run_id).first()
    if run is None or run.status not in (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL):
        return []
    company = run.company
    what = run.get_kind_display().lower()
    if run.status == SyncRun.Status.FAILED:
        title = f"{company.name}: {what} failed"
        body = run.error or "The run failed."
    else:
        title = f"{company.name}: {what} finished with {run.failed} entr{'y' if run.failed == 1 else 'ies'} in error"
        body = f"{run.done} done, {run.failed} with errors: each error is listed on the run."
    link = reverse("integrations:run", kwargs={"slug": company.slug, "pk": run.pk})
    users = [*members_with(company, roles.MANAGE), run.created_by]
    with transaction.atomic():
        return notify(
            company=company,
            users=users,
            kind=Notification.Kind.SYNC_PROBLEM,
            title=title,
            body=body,
            link=link,
            dedupe_key=f"run:{run.pk}",
        )


def connection_reconnect_notify(*, connection_id: int, message: str) -> list[Notification]:
    from django.urls import reverse

    from integrations.models import Connection

    conn = Connection.objects.select_related("company").filter(pk=connection_id).first()
    if conn is None:
        return []
    company = conn.company
    with transaction.atomic():
        return notify(
            company=company,
            users=members_with(company, roles.ADMINISTER),
            kind=Notification.Kind.CONNECTION_RECONNECT,
            title=f"{company.name}: {conn.get_provider_display()} needs to be connected again",
            body=message,
            link=reverse("integrations:status", kwargs={"slug": company.slug}),
        )


def checks_watch(*, company: Company) -> list[Notification]:
    """Run the month-end checks of every ended period still open and tell managers about each
    check that fails now after it had passed when last seen. The first look only records."""
    from django.urls import reverse

    from closebooks import selectors as close_selectors
    from closebooks.models import Period
    from closebooks.month_end.checks import run_checks

    today = company.today()
    told = []
    for period in close_selectors.company_periods(company):
        if period.state != Period.State.OPEN or period.last_day >= today:
            continue
        for result in run_checks(company, period.first_day, period.last_day):
            with transaction.atomic():
                watch = (
                    CheckWatch.objects.select_for_update().filter(company=company, month=period.month, rule=result.rule).first()
                )
                if watch is None:
                    CheckWatch.objects.create(company=company, month=period.month, rule=result.rule, passing=result.passed)
                    continue
                if watch.passing and not result.passed:
                    link = reverse("month_end:index", kwargs={"slug": company.slug}) + f"?month={period.key}"
                    told += notify(
                        company=company,
                        users=members_with(company, roles.MANAGE),
                        kind=Notification.Kind.CHECK_FAILING,
                        title=f"{company.name}: {result.title} ({period.name}) fails now",
                        body=f"It passed before; now it is off by {result.difference}.",
                        link=link,
                    )
                if watch.passing != result.passed:
                    watch.passing = result.passed
                    watch.save(update_fields=["passing", "seen_at"])
    return told
