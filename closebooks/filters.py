import django_filters
from django import forms

from ledger.filters import JournalEntryFilter
from ledger.models import Account, JournalLine


class ReviewFilter(JournalEntryFilter):
    """The journal's filters plus the Review step's own: account type and flagged (PC3)."""

    account_type = django_filters.ChoiceFilter(
        choices=Account.Type.choices, method="by_account_type", empty_label="Any account type", label="Account type"
    )
    flagged = django_filters.BooleanFilter(
        method="by_flagged", label="Flags", widget=forms.Select(choices=[("", "All entries"), ("true", "Flagged only")])
    )

    class Meta(JournalEntryFilter.Meta):
        fields = [*JournalEntryFilter.Meta.fields, "account_type", "flagged"]

    def by_account_type(self, queryset, name, value):
        lines = JournalLine.objects.filter(company=self.company, account__type=value).values("entry_id")
        return queryset.filter(id__in=lines)

    def by_flagged(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(is_balanced=not value)
