"""The close checklist in admin: read-only rows for support (changes go through the pages' services)."""

from django.contrib import admin

from ledger import roles
from ledger.admin import CompanyScopedAdmin

from .models import Checklist, ChecklistTask, TaskTemplate


class ReadOnlyScopedAdmin(CompanyScopedAdmin):
    write_perm = roles.MANAGE

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.hidden_fields]

    hidden_fields: tuple = ()

    def get_exclude(self, request, obj=None):
        return list(self.hidden_fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TaskTemplate)
class TaskTemplateAdmin(ReadOnlyScopedAdmin):
    list_display = ["company", "name", "due_day", "preparer", "reviewer", "builtin", "active"]
    list_filter = ["active", "company"]
    list_select_related = ["company", "preparer", "reviewer"]
    search_fields = ["name", "company__name"]


@admin.register(Checklist)
class ChecklistAdmin(ReadOnlyScopedAdmin):
    list_display = ["company", "month", "created_at", "created_by"]
    list_filter = ["company"]
    list_select_related = ["company", "created_by"]


@admin.register(ChecklistTask)
class ChecklistTaskAdmin(ReadOnlyScopedAdmin):
    list_display = ["company", "checklist", "name", "state", "due_date", "preparer", "reviewer"]
    list_filter = ["state", "company"]
    list_select_related = ["company", "checklist", "checklist__company", "preparer", "reviewer"]
    search_fields = ["name", "company__name"]
