from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ledger import roles
from ledger.admin import CompanyScopedAdmin

from .models import CheckAcceptance


@admin.register(CheckAcceptance)
class CheckAcceptanceAdmin(CompanyScopedAdmin):
    """Acceptances are given on the month-end page (the service checks role, reason and that the
    check fails); staff inspect them here. Never edited or deleted: they are part of the audit."""

    write_perm = roles.ADMINISTER
    list_display = ["rule", "company", "first_day", "last_day", "difference", "accepted_by", "accepted_at", "open_in_app"]
    list_filter = ["rule"]
    search_fields = ["reason"]
    list_select_related = ["company", "accepted_by"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CheckAcceptance._meta.fields] + ["open_in_app"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("month_end:index", args=[obj.company.slug])
        return format_html('<a href="{}?first={}&amp;last={}">month-end checks</a>', url, obj.first_day, obj.last_day)
