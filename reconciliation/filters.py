import django_filters
from django import forms
from django.db.models import Q

from ledger.filters import MoneyFilter
from ledger.models import Account, JournalLine


class OpenLineFilter(django_filters.FilterSet):
    """Filters of the reconcile page (LR3: "set a filter to make a selection")."""

    q = django_filters.CharFilter(method="search", label="Text")
    date_from = django_filters.DateFilter(
        field_name="entry_date", lookup_expr="gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="entry_date", lookup_expr="lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    amount_min = MoneyFilter(method="by_amount_min", label="Amount ≥")
    amount_max = MoneyFilter(method="by_amount_max", label="Amount ≤")
    side = django_filters.ChoiceFilter(
        choices=[("debit", "Debits"), ("credit", "Credits")], method="by_side", empty_label="Debits and credits"
    )
    reference = django_filters.ChoiceFilter(
        choices=[("with", "With reference"), ("without", "Without reference")], method="by_reference", empty_label="Any"
    )
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.none(), empty_label="Both accounts")

    class Meta:
        model = JournalLine
        fields = ["q", "date_from", "date_to", "amount_min", "amount_max", "side", "reference", "account"]

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["account"].queryset = Account.objects.filter(pk__in=accounts)
        if len(accounts) < 2:
            del self.filters["account"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(description__icontains=value) | Q(reconciliation_ref__icontains=value) | Q(entry__memo__icontains=value)
        )

    def by_amount_min(self, queryset, name, value):
        return queryset.filter(Q(debit__gte=value) | Q(credit__gte=value))

    def by_amount_max(self, queryset, name, value):
        return queryset.filter((Q(debit__gt=0) & Q(debit__lte=value)) | (Q(credit__gt=0) & Q(credit__lte=value)))

    def by_side(self, queryset, name, value):
        return queryset.filter(debit__gt=0) if value == "debit" else queryset.filter(credit__gt=0)

    def by_reference(self, queryset, name, value):
        return queryset.exclude(reconciliation_ref="") if value == "with" else queryset.filter(reconciliation_ref="")
