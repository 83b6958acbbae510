"""Django admin for staff. Querysets are company-scoped for staff who are not superusers, and
every write goes through the same services as the pages; forms show the services' refusals."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import roles, services
from .exceptions import LedgerError
from .models import (
    Account,
    Application,
    AuditEvent,
    Bill,
    BooksClosedSetting,
    Company,
    CreditMemo,
    Customer,
    CustomerCredit,
    Invoice,
    JournalEntry,
    JournalLine,
    LedgerEntity,
    Membership,
    Payment,
    PostingAccounts,
    Refund,
    Vendor,
    VendorCredit,
)
from .permissions import allowed
from .selectors import companies_for_perm


class CompanyScopedAdmin(admin.ModelAdmin):
    """Staff see the companies they hold a role in; writing needs the role's permission there."""

    company_path = "company"
    write_perm = roles.MANAGE
    action_perm: str | None = None  # what the model's actions need; None: write_perm

    def get_actions(self, request):
        """Actions are offered only to a role that may run them (each also re-checks every row)."""
        actions = super().get_actions(request)
        if not request.user.is_superuser and not self._companies(request, self.action_perm or self.write_perm).exists():
            return {}
        return actions

    def _companies(self, request, perm=roles.VIEW):
        return companies_for_perm(request.user, perm)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.company_path}__in": self._companies(request)})

    def _company_of(self, obj):
        company = obj
        for part in self.company_path.split("__"):
            company = getattr(company, part)
        return company

    def has_module_permission(self, request):
        return (
            request.user.is_active and request.user.is_staff and (request.user.is_superuser or self._companies(request).exists())
        )

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not request.user.is_staff:
            return False
        if obj is None:
            return self._companies(request).exists()
        return allowed(request.user, roles.VIEW, self._company_of(obj))

    def has_add_permission(self, request):
        return request.user.is_superuser or (request.user.is_staff and self._companies(request, self.write_perm).exists())

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not request.user.is_staff:
            return False
        if obj is None:
            return self._companies(request, self.write_perm).exists()
        return allowed(request.user, self.write_perm, self._company_of(obj))

    has_delete_permission = has_change_permission

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.related_model is Company:
                kwargs["queryset"] = self._companies(request, self.write_perm)
            elif db_field.related_model is Account:
                kwargs["queryset"] = Account.objects.filter(company__in=self._companies(request, self.write_perm))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Company)
class CompanyAdmin(CompanyScopedAdmin):
    company_path = "pk"
    write_perm = roles.ADMINISTER
    list_display = ["name", "slug", "time_zone", "base_currency", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["base_currency", "time_zone"]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return qs if request.user.is_superuser else qs.filter(pk__in=self._companies(request))

    def _company_of(self, obj):
        return obj

    def has_add_permission(self, request):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.company_update(
                company=obj,
                actor=request.user,
                name=data["name"],
                time_zone=data["time_zone"],
                base_currency=data["base_currency"],
                years_ahead=data.get("years_ahead"),
                amount_format=data.get("amount_format"),
            )
        else:
            created = services.company_create(
                name=data["name"],
                slug=data["slug"],
                time_zone=data["time_zone"],
                base_currency=data["base_currency"],
                actor=request.user,
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        messages.error(request, "Companies are never deleted: their books are kept.")

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["company", "user", "role"]

    def clean(self):
        data = super().clean()
        company = data.get("company") or getattr(self.instance, "company", None)
        user = data.get("user") or getattr(self.instance, "user", None)
        if company and user and data.get("role"):
            try:
                services.membership_validate(company=company, user=user, role=data["role"])
            except LedgerError as exc:
                raise forms.ValidationError(exc.message) from None
        return data

    def validate_unique(self):
        pass  # an existing membership is updated by the service, not duplicated


@admin.register(Membership)
class MembershipAdmin(CompanyScopedAdmin):
    form = MembershipAdminForm
    write_perm = roles.ADMINISTER
    list_display = ["user", "company", "role", "updated_at"]
    list_filter = ["role", "company"]
    search_fields = ["user__username", "user__email", "company__name"]
    list_select_related = ["user", "company"]

    def get_readonly_fields(self, request, obj=None):
        return ["company", "user"] if obj else []

    def save_model(self, request, obj, form, change):
        saved = services.membership_set_role(company=obj.company, user=obj.user, role=obj.role, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        try:
            services.membership_remove(membership=obj, actor=request.user)
        except LedgerError as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


class AccountAdminForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["company", "code", "name", "type", "blocked", "reconcilable", "reconcile_with"]

    def clean(self):
        data = super().clean()
        company = data.get("company") or getattr(self.instance, "company", None)
        if company is not None and data.get("code"):
            try:
                services.account_validate(
                    company=company, account=self.instance, code=data["code"], reconcile_with=data.get("reconcile_with")
                )
            except LedgerError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(Account)
class AccountAdmin(CompanyScopedAdmin):
    form = AccountAdminForm
    list_display = ["code", "name", "type", "company", "blocked", "reconcilable", "reconcile_with"]
    list_filter = ["type", "blocked", "reconcilable", "company"]
    search_fields = ["code", "name"]
    list_select_related = ["company", "reconcile_with"]

    def get_readonly_fields(self, request, obj=None):
        return ["company"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.account_save(
            company=obj.company,
            actor=request.user,
            account=obj if change else None,
            **{k: data[k] for k in ["code", "name", "type", "blocked", "reconcilable", "reconcile_with"]},
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False  # accounts with postings are protected; block an account instead (LR2)


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["line_no", "account", "description", "debit", "credit", "currency", "reconciliation_ref"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(CompanyScopedAdmin):
    """Read-only here: entries are posted and edited through the posting service on the journal
    pages (linked), and deleted through it by the delete action."""

    write_perm = roles.POST
    list_display = ["__str__", "company", "entry_date", "source", "is_balanced", "created_by", "open_in_app"]
    list_filter = ["source", "is_balanced", "company", "entry_date"]
    search_fields = ["memo", "reference", "lines__description"]
    date_hierarchy = "entry_date"
    list_select_related = ["company", "created_by"]
    inlines = [JournalLineInline]
    fields = ["company", "entry_date", "reference", "memo", "source", "is_balanced", "created_by", "created_at", "open_in_app"]
    readonly_fields = fields
    actions = ["delete_through_posting_service"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("ledger:journal_entry", kwargs={"slug": obj.company.slug, "pk": obj.pk})
        return format_html('<a href="{}">view / edit in closebooks</a>', url)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the bulk default would bypass the posting service; use the action

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser and not self._companies(request, roles.POST).exists():
            actions.pop("delete_through_posting_service", None)
        return actions

    @admin.action(description="Delete selected entries (through the posting service)")
    def delete_through_posting_service(self, request, queryset):
        deleted = 0
        for entry in queryset.select_related("company"):
            if not request.user.is_superuser and not request.user.has_perm(roles.POST, entry.company):
                messages.error(request, f"{entry}: your role in {entry.company} does not allow deleting entries.")
                continue
            try:
                services.journal_entry_delete(entry=entry, actor=request.user, reason="deleted in admin")
            except LedgerError as exc:
                messages.error(request, f"{entry}: {exc.message}")
            else:
                deleted += 1
        if deleted:
            messages.success(request, f"{deleted} journal entries deleted.")


@admin.register(Customer, Vendor)
class PartyAdmin(CompanyScopedAdmin):
    write_perm = roles.POST
    list_display = ["name", "email", "company"]
    list_filter = ["company"]
    search_fields = ["name", "email"]


@admin.register(AuditEvent)
class AuditEventAdmin(CompanyScopedAdmin):
    list_display = ["at", "company", "actor", "action", "subject_type", "subject_id", "reason"]
    list_filter = ["action", "subject_type", "company"]
    search_fields = ["subject_id", "reason", "actor__username"]
    date_hierarchy = "at"
    list_select_related = ["company", "actor"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------- books-closed setting (BC1–BC3, BC6, BC9)


class BooksClosedAdminForm(forms.ModelForm):
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Needed to move the date earlier (BC3)."
    )

    class Meta:
        model = BooksClosedSetting
        fields = ["company", "entity", "enabled", "closed_date", "restrict_inbound"]


@admin.register(BooksClosedSetting)
class BooksClosedSettingAdmin(CompanyScopedAdmin):
    """Writes go through ``books_closed_update`` as the staff user: the same roles (BC1, BC2),
    the same checks (BC2, BC3) and the same audit rows (PC6) as the settings page."""

    form = BooksClosedAdminForm
    write_perm = roles.MANAGE
    list_display = ["company", "entity", "enabled", "closed_date", "restrict_inbound", "source", "source_name", "pulled_date"]
    list_filter = ["enabled", "restrict_inbound", "source", "company"]
    list_select_related = ["company", "entity"]
    readonly_fields = [
        "source",
        "source_name",
        "source_at",
        "pulled_date",
        "pulled_source",
        "pulled_at",
        "closed_through",
        "history",
    ]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["company", "entity"] if obj else []
        return fixed + self.readonly_fields

    @admin.display(description="History (PC6)")
    def history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        events = AuditEvent.objects.filter(company=obj.company, subject_type="BooksClosedSetting", subject_id=str(obj.pk))[:50]
        return format_html_join(
            "",
            "<div>{} · {} · {} · {} → {} · {}</div>",
            (
                (
                    f"{e.at:%Y-%m-%d %H:%M}",
                    e.actor or "system",
                    e.action,
                    (e.before or {}).get("closed_date"),
                    (e.after or {}).get("closed_date"),
                    e.reason,
                )
                for e in events
            ),
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        company = obj.company
        entity = obj.entity
        kwargs = {"closed_date": data["closed_date"], "reason": data.get("reason", "")}
        if entity is None:
            kwargs.update(enabled=data["enabled"], restrict_inbound=data["restrict_inbound"])
            if not request.user.has_perm(roles.ADMINISTER, company) and not request.user.is_superuser:
                kwargs.pop("enabled")
                kwargs.pop("restrict_inbound")
        before = BooksClosedSetting.objects.filter(pk=obj.pk).first() if change else None
        if before is not None and before.closed_date == data["closed_date"]:
            kwargs.pop("closed_date")
        saved = services.books_closed_update(company=company, actor=request.user, entity=entity, **kwargs)
        obj.pk = saved.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except LedgerError as exc:
            messages.error(request, exc.message)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntity)
class LedgerEntityAdmin(CompanyScopedAdmin):
    list_display = ["key", "name", "company"]
    list_filter = ["company"]
    search_fields = ["key", "name"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = services.ledger_entity_ensure(company=obj.company, key=obj.key, name=obj.name, actor=request.user)
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PostingAccounts)
class PostingAccountsAdmin(CompanyScopedAdmin):
    list_display = ["company", "receivable", "payable", "tax", "cash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------- AR/AP documents


class ReadOnlyThroughServicesAdmin(CompanyScopedAdmin):
    """Documents are created and edited on the closebooks pages (linked); admin inspects them and
    its actions call the same services, so the books-closed guard answers here too."""

    write_perm = roles.POST

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["open_in_app"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the bulk default would bypass the services; use the actions

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser and not self._companies(request, roles.POST).exists():
            return {}
        return actions

    def _run(self, request, queryset, label, call):
        done = 0
        for obj in queryset.select_related("company"):
            if not request.user.is_superuser and not request.user.has_perm(roles.POST, obj.company):
                messages.error(request, f"{obj}: your role in {obj.company} does not allow this.")
                continue
            try:
                call(obj)
            except LedgerError as exc:
                messages.error(request, f"{obj}: {exc.message}")
            else:
                done += 1
        if done:
            messages.success(request, f"{done} {label}.")


class DocumentAdmin(ReadOnlyThroughServicesAdmin):
    list_display = ["number", "kind", "company", "doc_date", "customer", "vendor", "total", "tax", "status", "voided_at"]
    list_filter = ["status", "company", "doc_date"]
    search_fields = ["number", "customer__name", "vendor__name"]
    date_hierarchy = "doc_date"
    list_select_related = ["company", "customer", "vendor"]
    actions = ["void_through_service", "delete_through_service"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("ledger:document", kwargs={"slug": obj.company.slug, "pk": obj.pk})
        return format_html('<a href="{}">view / edit in closebooks</a>', url)

    @admin.action(description="Void selected (through the document service)")
    def void_through_service(self, request, queryset):
        self._run(
            request,
            queryset,
            "voided",
            lambda d: services.document_void(document=d, actor=request.user, reason="voided in admin"),
        )

    @admin.action(description="Delete selected (through the document service)")
    def delete_through_service(self, request, queryset):
        self._run(
            request,
            queryset,
            "deleted",
            lambda d: services.document_delete(document=d, actor=request.user, reason="deleted in admin"),
        )


for _proxy in (Invoice, Bill, CreditMemo, VendorCredit):
    admin.site.register(_proxy, type(f"{_proxy.__name__}Admin", (DocumentAdmin,), {}))


@admin.register(Payment)
class PaymentAdmin(ReadOnlyThroughServicesAdmin):
    list_display = ["__str__", "company", "direction", "process_date", "amount", "status", "customer", "vendor"]
    list_filter = ["direction", "status", "company"]
    date_hierarchy = "process_date"
    list_select_related = ["company", "customer", "vendor"]
    actions = ["void_through_service", "cancel_through_service", "delete_through_service"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("ledger:payment", kwargs={"slug": obj.company.slug, "pk": obj.pk})
        return format_html('<a href="{}">view in closebooks</a>', url)

    @admin.action(description="Void selected recorded payments (BC5)")
    def void_through_service(self, request, queryset):
        self._run(request, queryset, "voided", lambda p: services.payment_move(payment=p, to="voided", actor=request.user))

    @admin.action(description="Cancel selected scheduled payments (BC5)")
    def cancel_through_service(self, request, queryset):
        self._run(request, queryset, "cancelled", lambda p: services.payment_move(payment=p, to="cancelled", actor=request.user))

    @admin.action(description="Delete selected (through the payment service)")
    def delete_through_service(self, request, queryset):
        self._run(request, queryset, "deleted", lambda p: services.payment_delete(payment=p, actor=request.user, reason="admin"))


@admin.register(CustomerCredit)
class CustomerCreditAdmin(ReadOnlyThroughServicesAdmin):
    list_display = ["__str__", "company", "kind", "credit_date", "amount"]
    list_filter = ["kind", "company"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        return format_html(
            '<a href="{}">credits in closebooks</a>', reverse("ledger:customer_credits", kwargs={"slug": obj.company.slug})
        )


@admin.register(Refund)
class RefundAdmin(ReadOnlyThroughServicesAdmin):
    list_display = ["__str__", "company", "refund_date", "amount"]
    list_filter = ["company"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        return format_html('<a href="{}">refunds in closebooks</a>', reverse("ledger:refunds", kwargs={"slug": obj.company.slug}))


@admin.register(Application)
class ApplicationAdmin(ReadOnlyThroughServicesAdmin):
    list_display = ["__str__", "company", "applied_on", "amount", "target"]
    list_filter = ["company", "applied_on"]
    actions = ["reverse_through_service"]

    @admin.display(description="Open")
    def open_in_app(self, obj):
        url = reverse("ledger:document", kwargs={"slug": obj.company.slug, "pk": obj.target_id})
        return format_html('<a href="{}">target in closebooks</a>', url)

    @admin.action(description="Reverse selected applications (on today's date)")
    def reverse_through_service(self, request, queryset):
        self._run(
            request,
            queryset,
            "reversed",
            lambda a: services.application_reverse(application=a, actor=request.user, reason="admin"),
        )
