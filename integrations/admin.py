"""Admin for staff: company-scoped, read-only views of connections (tokens never shown), charts,
mappings, runs and the outbox. Writes go through the services (the disconnect action)."""

from django.contrib import admin, messages

from ledger import roles
from ledger.admin import CompanyScopedAdmin

from . import services
from .models import (
    AccountMapping,
    Connection,
    ConnectionEntity,
    ExternalAccount,
    ExternalItem,
    InboundRecord,
    OutboxEntry,
    SyncIssue,
    SyncRun,
)


class ReadOnlyAdmin(CompanyScopedAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.editable]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    write_perm = roles.ADMINISTER
    list_display = ["company", "provider", "tenant_name", "status", "remote_closed_date", "connected_at"]
    list_filter = ["provider", "status"]
    search_fields = ["company__name", "tenant_name", "tenant_id"]
    # access_token and refresh_token are not editable fields, so no form or page ever shows them.
    exclude = ["access_token", "refresh_token"]
    actions = ["disconnect"]

    @admin.action(description="Disconnect (through the connection service)")
    def disconnect(self, request, queryset):
        done = 0
        for conn in queryset.select_related("company"):
            if not request.user.is_superuser and not request.user.has_perm(roles.ADMINISTER, conn.company):
                messages.error(request, f"{conn}: your role does not allow disconnecting.")
                continue
            services.connection_disconnect(connection=conn, actor=request.user)
            done += 1
        if done:
            messages.success(request, f"{done} disconnected.")

    def save_model(self, request, obj, form, change):
        messages.error(request, "Connections change only through the connect and disconnect flows.")


@admin.register(ConnectionEntity)
class ConnectionEntityAdmin(ReadOnlyAdmin):
    """Entities of a multi-entity connection (BC9). Only the manual closed date is editable, and it
    is written through ``entity_closed_date_set``."""

    company_path = "connection__company"
    write_perm = roles.ADMINISTER
    list_display = ["external_id", "name", "connection", "manual_closed_date", "rejected_through", "applied", "source"]
    search_fields = ["external_id", "name"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "manual_closed_date"]

    @admin.display(description="Closed through (applied)")
    def applied(self, obj):
        return obj.closed_through

    @admin.display(description="Where the applied date comes from")
    def source(self, obj):
        return obj.closed_source

    def save_model(self, request, obj, form, change):
        services.entity_closed_date_set(
            connection=obj.connection, external_id=obj.external_id, closed_through=obj.manual_closed_date, actor=request.user
        )


@admin.register(ExternalAccount)
class ExternalAccountAdmin(ReadOnlyAdmin):
    company_path = "connection__company"
    list_display = ["number", "name", "type", "active", "connection"]
    list_filter = ["active"]
    search_fields = ["number", "name"]


@admin.register(AccountMapping)
class AccountMappingAdmin(ReadOnlyAdmin):
    company_path = "connection__company"
    list_display = ["account", "external_account", "connection", "updated_at"]
    search_fields = ["account__code", "account__name", "external_account__name"]


class SyncIssueInline(admin.TabularInline):
    model = SyncIssue
    fields = ["entry", "code", "message", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "company", "kind", "status", "done", "failed", "total", "requests", "created_at"]
    list_filter = ["kind", "status"]
    inlines = [SyncIssueInline]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    company_path = "connection__company"
    list_display = ["entry", "state", "external_id", "request_key", "synced_at", "connection"]
    list_filter = ["state"]
    search_fields = ["external_id", "request_key"]


@admin.register(ExternalItem)
class ExternalItemAdmin(ReadOnlyAdmin):
    company_path = "connection__company"
    list_display = ["name", "type", "income_account_id", "active", "pulled_at", "connection"]
    list_filter = ["active", "type"]
    search_fields = ["name", "external_id"]


@admin.register(InboundRecord)
class InboundRecordAdmin(ReadOnlyAdmin):
    company_path = "connection__company"
    list_display = ["kind", "number", "state", "entry", "reason", "pulled_at", "connection"]
    list_filter = ["kind", "state"]
    search_fields = ["number", "external_id", "reason"]
