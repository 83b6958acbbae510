"""Django admin for reconciliation: company-scoped for staff, writes through the same services."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from ledger import roles
from ledger.admin import CompanyScopedAdmin
from ledger.exceptions import LedgerError
from ledger.forms import MoneyField

from . import services
from .models import Proposal, ReconciledLine, Reconciliation, ReconciliationSettings, id_for_code


class ReconciliationSettingsAdminForm(forms.ModelForm):
    # read by the one money parser, as on the settings page (Django's DecimalField takes "1e-2" and "1_0")
    permitted_difference = MoneyField(label="Permitted difference", required=True)

    class Meta:
        model = ReconciliationSettings
        fields = ["company", "permitted_difference", "discrepancy_account"]


@admin.register(ReconciliationSettings)
class ReconciliationSettingsAdmin(CompanyScopedAdmin):
    form = ReconciliationSettingsAdminForm
    list_display = ["company", "permitted_difference", "discrepancy_account", "updated_at"]
    list_select_related = ["company", "discrepancy_account"]

    def get_readonly_fields(self, request, obj=None):
        return ["company"] if obj else []

    def save_model(self, request, obj, form, change):
        try:
            saved = services.reconciliation_settings_save(
                company=obj.company,
                actor=request.user,
                permitted_difference=form.cleaned_data["permitted_difference"],
                discrepancy_account=form.cleaned_data["discrepancy_account"],
            )
        except LedgerError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reconciliation)
class ReconciliationAdmin(CompanyScopedAdmin):
    """Read-only; the delete action reverses write-offs through the service (LR6)."""

    write_perm = roles.RECONCILE
    list_display = ["code", "company", "account", "reconciled_on", "reconciled_by", "basis", "write_off_amount", "open_in_app"]
    list_filter = ["basis", "company", "reconciled_on"]
    search_fields = ["basis_key"]
    list_select_related = ["company", "account", "reconciled_by"]
    actions = ["delete_through_service"]
    action_perm = roles.RECONCILE

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Reconciliation._meta.fields] + ["code"]

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        pk = id_for_code(search_term)
        if pk is not None:
            queryset |= self.get_queryset(request).filter(pk=pk)
        return queryset, duplicates

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("reconciliation:reconciliation", kwargs={"slug": obj.company.slug, "pk": obj.pk})
        return format_html('<a href="{}">view in closebooks</a>', url)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the bulk default would leave write-offs unreversed; use the action

    @admin.action(description="Delete selected reconciliations (reopen lines, reverse write-offs)")
    def delete_through_service(self, request, queryset):
        deleted = 0
        for reconciliation in queryset.select_related("company"):
            if not request.user.is_superuser and not request.user.has_perm(roles.RECONCILE, reconciliation.company):
                messages.error(request, f"{reconciliation}: your role does not allow reconciling.")
                continue
            try:
                services.reconciliation_delete(reconciliation=reconciliation, actor=request.user, reason="deleted in admin")
            except LedgerError as exc:
                messages.error(request, f"{reconciliation}: {exc.message}")
            else:
                deleted += 1
        if deleted:
            messages.success(request, f"{deleted} reconciliations deleted.")


@admin.register(ReconciledLine)
class ReconciledLineAdmin(CompanyScopedAdmin):
    company_path = "reconciliation__company"
    list_display = ["line", "reconciliation"]
    raw_id_fields = ["line", "reconciliation"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Proposal)
class ProposalAdmin(CompanyScopedAdmin):
    write_perm = roles.RECONCILE
    list_display = ["pk", "company", "account", "status", "candidate_count", "group_counts", "created_by", "created_at"]
    list_filter = ["status", "company"]
    list_select_related = ["company", "account", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Proposal._meta.fields] + ["group_counts"]

    @admin.display(description="Groups (reference / amount / subset)")
    def group_counts(self, obj):
        groups = (obj.stats or {}).get("groups", {})
        return " / ".join(str(groups.get(k, 0)) for k in ("reference", "amount", "subset"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
