import django_filters
from django import forms
from django.db.models import Q

from .forms import MoneyFilterField, use_money_format
from .models import Account, JournalEntry


class MoneyFilter(django_filters.Filter):
    """An amount filter parsed like every money field (to_money): an amount the books cannot
    hold ("1e-999999999", "NaN", 20 digits) is a form error on the filter, never a query error."""

    field_class = MoneyFilterField


class AccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    type = django_filters.ChoiceFilter(choices=Account.Type.choices, empty_label="All types")
    blocked = django_filters.BooleanFilter(widget=forms.Select(choices=[("", "Any"), ("true", "Blocked"), ("false", "Open")]))
    reconcilable = django_filters.BooleanFilter(
        widget=forms.Select(choices=[("", "Any"), ("true", "Reconcilable"), ("false", "Not reconcilable")])
    )

    class Meta:
        model = Account
        fields = ["q", "type", "blocked", "reconcilable"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__istartswith=value) | Q(name__icontains=value))


class JournalEntryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Text")
    date_from = django_filters.DateFilter(
        field_name="entry_date", lookup_expr="gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="entry_date", lookup_expr="lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    account = django_filters.ModelChoiceFilter(
        queryset=Account.objects.none(), method="by_account", empty_label="Any account", label="Account"
    )
    source = django_filters.ChoiceFilter(choices=JournalEntry.Source.choices, empty_label="Any source")
    is_balanced = django_filters.BooleanFilter(
        label="Balance", widget=forms.Select(choices=[("", "Any"), ("true", "Balanced"), ("false", "Unbalanced (flagged)")])
    )
    amount_min = MoneyFilter(method="by_amount_min", label="Amount ≥")
    amount_max = MoneyFilter(method="by_amount_max", label="Amount ≤")

    class Meta:
        model = JournalEntry
        fields = ["q", "date_from", "date_to", "account", "source", "is_balanced", "amount_min", "amount_max"]

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        self.filters["account"].queryset = Account.objects.filter(company=company).order_by("code")

    @property
    def form(self):
        form = super().form
        use_money_format(form, self.company)  # amounts typed as the company's people write them
        return form

    def search(self, queryset, name, value):
        ids = (
            JournalEntry.objects.filter(company=self.company)
            .filter(Q(memo__icontains=value) | Q(reference__icontains=value) | Q(lines__description__icontains=value))
            .values("id")
        )
        return queryset.filter(id__in=ids)

    def by_account(self, queryset, name, value):
        return queryset.filter(id__in=value.lines.values("entry_id")) if value else queryset

    def by_amount_min(self, queryset, name, value):
        return queryset.filter(id__in=self._lines_with(Q(debit__gte=value) | Q(credit__gte=value)))

    def by_amount_max(self, queryset, name, value):
        return queryset.filter(
            id__in=self._lines_with((Q(debit__gt=0) & Q(debit__lte=value)) | (Q(credit__gt=0) & Q(credit__lte=value)))
        )

    def _lines_with(self, condition):
        from .models import JournalLine

        return JournalLine.objects.filter(condition, company=self.company).values("entry_id")


class DocumentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Number or party")
    date_from = django_filters.DateFilter(
        field_name="doc_date", lookup_expr="gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="doc_date", lookup_expr="lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    status = django_filters.ChoiceFilter(choices=[("open", "Open"), ("void", "Void")], empty_label="Any status")

    class Meta:
        from .models import Document

        model = Document
        fields = ["q", "date_from", "date_to", "status"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(customer__name__icontains=value) | Q(vendor__name__icontains=value))


class PaymentFilter(django_filters.FilterSet):
    from .models import Payment as _Payment

    direction = django_filters.ChoiceFilter(choices=_Payment.Direction.choices, empty_label="Any direction")
    status = django_filters.ChoiceFilter(choices=_Payment.Status.choices, empty_label="Any status")
    date_from = django_filters.DateFilter(
        field_name="process_date", lookup_expr="gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="process_date", lookup_expr="lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        from .models import Payment

        model = Payment
        fields = ["direction", "status", "date_from", "date_to"]
