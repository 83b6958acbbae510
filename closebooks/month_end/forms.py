"""Parsing of the month-end pages' query strings: a period (month, or first and last day), an
as-of date, and the report filters. A bad or future date is a form error, never a 500."""

from __future__ import annotations

import re
from datetime import date

from django import forms

from ledger.models import Company, Customer, CustomerCredit, TransactionType

from .figures import Period
from .reports import ReportParams

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def default_period(company: Company) -> Period:
    """The month to close: the one before the company's current month."""
    return Period.containing(company.today()).previous()


# The earliest day a month-end period may start: the figures compare with the day before a period,
# and nothing in any company's books is older (0001-01-01 made the checks overflow the calendar).
EARLIEST = date(1900, 1, 1)


class PeriodForm(forms.Form):
    month = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "month"}), help_text="YYYY-MM")
    first = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    last = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company

    def clean_month(self) -> Period | None:
        value = (self.cleaned_data.get("month") or "").strip()
        if not value:
            return None
        match = MONTH_RE.match(value)
        if not match or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError("Give the month as YYYY-MM, e.g. 2026-10.")
        return Period.month(int(match[1]), int(match[2]))

    def period(self) -> Period:
        data = self.cleaned_data
        if data.get("month"):
            return data["month"]
        if data.get("first") and data.get("last"):
            return Period(data["first"], data["last"])
        return default_period(self.company)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if bool(data.get("first")) != bool(data.get("last")):
            raise forms.ValidationError("Give both the first and the last day of the period, or a month.")
        period = self.period()
        if period.first_day < EARLIEST:
            raise forms.ValidationError(f"Give a period from {EARLIEST:%Y-%m-%d} on.")
        if period.last_day < period.first_day:
            raise forms.ValidationError("The period ends before it starts.")
        today = self.company.today()
        if period.first_day > today:
            raise forms.ValidationError(
                f"The period {period.first_day:%Y-%m-%d}–{period.last_day:%Y-%m-%d} has not started yet"
                f" (today is {today:%Y-%m-%d})."
            )
        if (period.last_day - period.first_day).days > 366:
            raise forms.ValidationError("A period can be at most a year long.")
        data["period"] = period
        return data


class ReportForm(PeriodForm):
    as_of = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="As of")
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *CustomerCredit.Kind.choices], required=False, label="Credit kind")
    include = forms.MultipleChoiceField(
        choices=TransactionType.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Only types"
    )
    exclude = forms.MultipleChoiceField(
        choices=TransactionType.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Leave out types"
    )
    txn_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Transaction date from")
    txn_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Transaction date to")
    inv_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Invoice date from")
    inv_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Invoice date to")

    def __init__(self, *args, company: Company, mode: str, **kwargs):
        super().__init__(*args, company=company, **kwargs)
        self.mode = mode
        self.fields["customer"].queryset = Customer.objects.filter(company=company).order_by("name")

    def clean(self):
        data = forms.Form.clean(self)
        if self.errors:
            return data
        today = self.company.today()
        if self.mode == "as_of":
            day = data.get("as_of") or data.get("last") or default_period(self.company).last_day
            if day > today:
                raise forms.ValidationError(
                    f"The as-of date {day:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}):"
                    " AR and balances are known only up to today."
                )
            data["as_of_day"] = day
            return data
        if self.mode == "ranges":
            if not any(data.get(k) for k in ("txn_from", "txn_to", "inv_from", "inv_to")):
                period = data.get("month") or (
                    Period(data["first"], data["last"])
                    if data.get("first") and data.get("last")
                    else default_period(self.company)
                )
                data["txn_from"], data["txn_to"] = period.first_day, period.last_day
            for start, end in (("txn_from", "txn_to"), ("inv_from", "inv_to")):
                if data.get(start) and data.get(end) and data[end] < data[start]:
                    raise forms.ValidationError("A date range ends before it starts.")
            overlap = set(data.get("include") or ()) & set(data.get("exclude") or ())
            if overlap:
                raise forms.ValidationError("A transaction type cannot be both included and left out.")
            return data
        return super().clean()

    def params(self) -> ReportParams:
        data = self.cleaned_data
        customer = data.get("customer")
        return ReportParams(
            period=data.get("period"),
            as_of=data.get("as_of_day"),
            customer=customer.pk if customer else None,
            kind=data.get("kind") or "",
            include=tuple(data.get("include") or ()),
            exclude=tuple(data.get("exclude") or ()),
            txn_from=data.get("txn_from"),
            txn_to=data.get("txn_to"),
            inv_from=data.get("inv_from"),
            inv_to=data.get("inv_to"),
        )


class AcceptForm(forms.Form):
    first = forms.DateField(widget=forms.HiddenInput)
    last = forms.DateField(widget=forms.HiddenInput)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, help_text="Why the difference is acceptable."
    )

    def __init__(self, *args, company: Company | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company

    def clean(self):
        """The period accepted is checked like the period shown (PeriodForm): in order, started,
        at most a year. Its dates come back from a hidden field, so they may have been edited."""
        data = super().clean()
        # Checked even when the reason is missing: the page is drawn again for this period then,
        # and a period starting in year 1 overflowed the calendar of the checks.
        if self.company is None or data.get("first") is None or data.get("last") is None:
            return data
        check = PeriodForm({"first": data["first"], "last": data["last"]}, company=self.company)
        if not check.is_valid():
            raise forms.ValidationError(check.non_field_errors() or "Give a valid period.")
        return data
