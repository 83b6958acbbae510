"""API keys, calls and webhooks in admin: read-only for support; revoking a key is an action
that calls the same service as the settings page. Hashes and secrets are never shown."""

from django.contrib import admin, messages

from closebooks.checklist.admin import ReadOnlyScopedAdmin
from ledger import roles
from ledger.exceptions import LedgerError

from . import services
from .models import ApiCall, ApiKey, WebhookDelivery, WebhookEndpoint


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyScopedAdmin):
    write_perm = roles.ADMINISTER
    hidden_fields = ("key_hash",)
    list_display = ["company", "name", "prefix", "scope", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", "company"]
    list_select_related = ["company"]
    actions = ["revoke_keys"]

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        for key in queryset.select_related("company"):
            try:
                services.api_key_revoke(key=key, actor=request.user)
            except LedgerError as exc:
                messages.error(request, f"{key}: {exc.message}")
            else:
                messages.success(request, f"{key}: revoked.")


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyScopedAdmin):
    write_perm = roles.ADMINISTER
    list_display = ["at", "company", "key", "method", "path", "status", "duration_ms"]
    list_filter = ["status", "company"]
    list_select_related = ["company", "key"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyScopedAdmin):
    write_perm = roles.ADMINISTER
    hidden_fields = ("secret",)
    list_display = ["company", "url", "active", "created_at"]
    list_filter = ["active", "company"]
    list_select_related = ["company"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyScopedAdmin):
    write_perm = roles.ADMINISTER
    list_display = ["created_at", "company", "endpoint", "event", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event", "company"]
    list_select_related = ["company", "endpoint"]
