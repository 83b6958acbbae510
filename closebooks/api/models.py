"""The API's keys and call log, and the webhooks (AP1, AP2)."""

import uuid

from django.conf import settings
from django.db import models

from integrations.crypto import EncryptedTextField
from ledger.models import Company


class ApiKey(models.Model):
    """A company's key for the API. Only a SHA-256 hash of the key is kept: the key itself is
    shown once, when it is made (it is 256 random bits, so a fast hash is as safe as a slow one)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        POST = "post", "Read and post journal entries"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="The key's public start, to tell keys apart.")
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["company", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (cbk_{self.prefix}_…)"


class ApiCall(models.Model):
    """One API call: who (the key), what, the answer's status and how long it took (AP1)."""

    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API call"
        indexes = [models.Index(fields=["company", "-at"], name="apicall_company_at")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class WebhookEndpoint(models.Model):
    class Event(models.TextChoices):
        BOOKS_CLOSED_MOVED = "books_closed.moved", "The books-closed date moved"
        PERIOD_LOCKED = "period.locked", "A period was locked"
        PERIOD_CLOSED = "period.closed", "A period was closed"
        SYNC_RUN_FINISHED = "sync_run.finished", "A sync run ended"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField(help_text="Signs every delivery (HMAC-SHA256); shown once.")
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company", "-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(default=uuid.uuid4)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    log = models.JSONField(default=list, help_text="Every attempt: when, the answer's status or the error.")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_endpoint")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
