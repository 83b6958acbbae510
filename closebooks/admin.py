"""Periods in admin: read-only rows; the actions call the same services as the wizard."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from ledger import roles
from ledger.admin import CompanyScopedAdmin
from ledger.exceptions import LedgerError

from . import services
from .models import Period


class UnlockForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept in the audit trail (PC5).")


@admin.register(Period)
class PeriodAdmin(CompanyScopedAdmin):
    write_perm = roles.MANAGE
    list_display = ["company", "name", "state", "locked_at", "locked_by", "closed_at", "closed_by"]
    list_filter = ["state", "company"]
    list_select_related = ["company", "locked_by", "closed_by"]
    search_fields = ["company__name"]
    date_hierarchy = "month"
    actions = ["lock_periods", "unlock_periods"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Period._meta.fields]

    def has_add_permission(self, request):
        return False  # periods come from the company's months; a row appears when one changes state

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _run(self, request, queryset, action, done):
        for period in queryset.select_related("company").order_by("company", "month"):
            try:
                action(period)
            except LedgerError as exc:
                messages.error(request, f"{period.company} · {period.name}: {exc.message}")
            else:
                messages.success(request, f"{period.company} · {period.name}: {done}.")

    @admin.action(description="Lock selected periods (PC4)")
    def lock_periods(self, request, queryset):
        self._run(request, queryset, lambda p: services.period_lock(period=p, actor=request.user), "locked")

    @admin.action(description="Unlock selected periods, with a reason (PC5)")
    def unlock_periods(self, request, queryset):
        form = UnlockForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._run(
                request, queryset, lambda p: services.period_unlock(period=p, actor=request.user, reason=reason), "unlocked"
            )
            return None
        return TemplateResponse(
            request,
            "admin/closebooks/unlock_periods.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "periods": queryset,
                "opts": self.model._meta,
                "action": "unlock_periods",
            },
        )
