from django import forms
from django.forms import formset_factory

from .exceptions import LedgerError
from .models import Account, Role
from .services import LineInput, to_money


def add_service_error(form: forms.BaseForm, error: LedgerError) -> None:
    """Show a service's refusal on the field it names, or at the top of the form."""
    field = error.field if error.field in getattr(form, "fields", {}) else None
    form.add_error(field, error.message)


class MoneyField(forms.CharField):
    """A money amount parsed by the posting service's own parser, so form and service agree."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "money"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            return to_money(value, label=self.label or "Amount")
        except LedgerError as exc:
            raise forms.ValidationError(exc.message) from None


class JournalEntryForm(forms.Form):
    entry_date = forms.DateField(label="Entry date", widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(max_length=100, required=False)
    memo = forms.CharField(max_length=500, required=False)


class JournalLineForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none(), required=False)
    description = forms.CharField(max_length=500, required=False)
    debit = MoneyField(label="Debit")
    credit = MoneyField(label="Credit")
    currency = forms.CharField(max_length=3, required=False, widget=forms.TextInput(attrs={"size": 4}))

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(company=company).order_by("code")
        self.fields["account"].error_messages["invalid_choice"] = "Choose an account of this company."
        self.fields["currency"].widget.attrs["placeholder"] = company.base_currency

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("account") and not data.get("debit") and not data.get("credit") and not data.get("description")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("account") is None and (data.get("debit") or data.get("credit")):
            self.add_error("account", "Choose an account for this line.")
        return data


class BaseJournalLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, company, **kwargs):
        self.company = company
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "company": self.company}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            company=self.company,
            renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form

    def clean(self):
        if any(self.errors):
            return
        if not self.line_inputs():
            raise forms.ValidationError("Enter at least two lines.")

    def line_inputs(self) -> list[LineInput]:
        return [
            LineInput(
                account=form.cleaned_data["account"],
                debit=form.cleaned_data["debit"],
                credit=form.cleaned_data["credit"],
                description=form.cleaned_data["description"],
                currency=form.cleaned_data["currency"] or None,
            )
            for form in self.forms
            if form.cleaned_data and not form.is_blank()
        ]


JournalLineFormSet = formset_factory(JournalLineForm, formset=BaseJournalLineFormSet, extra=2, max_num=500, validate_max=True)


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["code", "name", "type", "blocked", "reconcilable", "reconcile_with"]

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        others = Account.objects.filter(company=company)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["reconcile_with"].queryset = others.order_by("code")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)
