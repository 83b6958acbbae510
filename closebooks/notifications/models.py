"""What closebooks tells people: an in-app list per user, and the same by email (Django's mail
framework). Each user chooses per kind whether to get it in the app, by email, or not at all."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.models import Company


class Notification(models.Model):
    class Kind(models.TextChoices):
        TASK_ASSIGNED = "task_assigned", "A close task is assigned to me"
        TASK_DUE_TOMORROW = "task_due_tomorrow", "A task of mine is due tomorrow"
        TASK_SENT_BACK = "task_sent_back", "A task I prepared is sent back"
        TASK_WAITING_REVIEW = "task_waiting_review", "A task waits for my review"
        SYNC_PROBLEM = "sync_problem", "A sync run failed or left errors"
        CHECK_FAILING = "check_failing", "A month-end check started failing"
        CONNECTION_RECONNECT = "connection_reconnect", "A connection needs reconnecting"

    class Email(models.TextChoices):
        NOT_WANTED = "not_wanted", "Not wanted"
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    in_app = models.BooleanField(default=True, help_text="Shown in the user's list (their preference when it was made).")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=12, choices=Email.choices, default=Email.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=120, blank=True, help_text="One notification per user and key (e.g. a reminder).")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "in_app", "-created_at"], name="notification_user_list"),
            models.Index(fields=["email", "created_at"], condition=Q(email="pending"), name="notification_email_pending"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], condition=~Q(dedupe_key=""), name="notification_once_per_key")
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """A user's choice for one kind; without a row the user gets both (the default)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=30, choices=Notification.Kind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notificationpreference_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.user} · {self.kind}"


class CheckWatch(models.Model):
    """The last state seen of one month-end check of one period, so a check that starts failing
    after it had passed is told once (not every hour it keeps failing)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    rule = models.CharField(max_length=8)
    passing = models.BooleanField()
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "month", "rule"], name="checkwatch_one_per_rule")]

    def __str__(self) -> str:
        return f"{self.company_id} {self.month:%Y-%m} {self.rule}: {'passing' if self.passing else 'failing'}"
