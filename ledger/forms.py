from django import forms
from django.forms import formset_factory

from .exceptions import LedgerError
from .models import Account, Company, Role
from .money import DEFAULT_FORMAT, MoneyError, MoneyFormat, money_parse
from .services import LineInput


def add_service_error(form: forms.BaseForm, error: LedgerError) -> None:
    """Show a service's refusal on the field it names, or at the top of the form."""
    field = error.field if error.field in getattr(form, "fields", {}) else None
    form.add_error(field, error.message)


MAX_ID = 2**63 - 1  # a bigint primary key


def parse_id(value: object) -> int | None:
    """A row id typed or posted as text ("42"), or None when it is not one: ASCII digits only
    (``str.isdigit`` also accepts "²" and "١", which ``int`` then refuses) and within a bigint,
    so that looking it up never fails in the database. Every plain id parameter goes through here."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class MoneyField(forms.CharField):
    """A money amount read by the one money parser (``ledger.money``) in the company's format
    (``use_money_format``), so a form, the admin and the posting service agree on what an amount is."""

    money_format: MoneyFormat = DEFAULT_FORMAT

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "money"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            return money_parse(value, fmt=self.money_format, label=self.label or "Amount")
        except MoneyError as exc:
            raise forms.ValidationError(exc.message) from None


def use_money_format(form: forms.BaseForm, company: Company | None) -> None:
    """Read the form's amounts the way ``company``'s people write them (Company.amount_format)."""
    if company is None:
        return
    for field in form.fields.values():
        if isinstance(field, MoneyField):
            field.money_format = company.money_format


class MoneyFilterField(MoneyField):
    """A money amount typed into a filter: blank means no filter (None, not zero)."""

    def clean(self, value):
        if value is None or not str(value).strip():
            return None
        return super().clean(value)


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
        use_money_format(self, company)

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


# ---------------------------------------------------------------- books-closed setting (BC1–BC3, BC6)


class BooksClosedForm(forms.Form):
    """Settings → Preferences → Accounting → Edit. The switch and the toggle are shown to
    administrators only (BC1, BC6); the date to administrators and managers (BC2)."""

    enabled = forms.TypedChoiceField(
        label="Enable closed books",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    restrict_inbound = forms.TypedChoiceField(
        label="Restrict inbound transactions",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        help_text="Yes: the date also applies to transactions syncing in from your accounting system.",
    )
    closed_date = forms.DateField(
        label="Books closed date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a valid date (YYYY-MM-DD)."},
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when you move the date earlier: that reopens days (BC3).",
    )

    def __init__(self, *args, can_administer: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_administer:
            for name in ("enabled", "restrict_inbound"):
                self.fields[name].disabled = True
                self.fields[name].required = False


# ---------------------------------------------------------------- AR/AP documents


class DocumentForm(forms.Form):
    number = forms.CharField(max_length=60)
    party = forms.ModelChoiceField(queryset=None, label="Customer")
    doc_date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    due_date = forms.DateField(label="Due date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    memo = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, company, kind, **kwargs):
        from .models import Customer, Document, Vendor

        super().__init__(*args, **kwargs)
        customer_side = kind in Document.CUSTOMER_KINDS
        model = Customer if customer_side else Vendor
        self.fields["party"].queryset = model.objects.filter(company=company).order_by("name")
        self.fields["party"].label = "Customer" if customer_side else "Vendor"
        self.fields["party"].error_messages["invalid_choice"] = f"Choose a {model.__name__.lower()} of this company."
        self.fields["doc_date"].label = "Credit date" if kind in Document.CREDIT_KINDS else f"{Document.Kind(kind).label} date"


class DocumentLineForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none(), required=False)
    description = forms.CharField(max_length=500, required=False)
    amount = MoneyField(label="Amount")
    tax = MoneyField(label="Tax")

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(company=company).order_by("code")
        self.fields["account"].error_messages["invalid_choice"] = "Choose an account of this company."
        use_money_format(self, company)

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("account") and not data.get("amount") and not data.get("description")

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("account") is None and data.get("amount"):
            self.add_error("account", "Choose an account for this line.")
        return data


class BaseDocumentLineFormSet(BaseJournalLineFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not self.line_inputs():
            raise forms.ValidationError("Enter at least one line.")

    def line_inputs(self):
        from .services import DocumentLineInput

        return [
            DocumentLineInput(
                account=form.cleaned_data["account"],
                amount=form.cleaned_data["amount"],
                tax=form.cleaned_data["tax"],
                description=form.cleaned_data["description"],
            )
            for form in self.forms
            if form.cleaned_data and not form.is_blank()
        ]


DocumentLineFormSet = formset_factory(DocumentLineForm, formset=BaseDocumentLineFormSet, extra=2, max_num=200, validate_max=True)


class PaymentForm(forms.Form):
    direction = forms.ChoiceField(choices=[("incoming", "Incoming (from a customer)"), ("outgoing", "Outgoing (to a vendor)")])
    customer = forms.ModelChoiceField(queryset=None, required=False)
    vendor = forms.ModelChoiceField(queryset=None, required=False)
    process_date = forms.DateField(label="Process date", widget=forms.DateInput(attrs={"type": "date"}))
    amount = MoneyField(label="Amount", required=True)
    status = forms.ChoiceField(choices=[("scheduled", "Schedule"), ("recorded", "Record now")], initial="recorded")
    method = forms.CharField(max_length=30, required=False)
    reference = forms.CharField(max_length=100, required=False)

    def __init__(self, *args, company, editing=False, **kwargs):
        from .models import Customer, Vendor

        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(company=company).order_by("name")
        self.fields["vendor"].queryset = Vendor.objects.filter(company=company).order_by("name")
        if editing:
            for name in ("direction", "customer", "vendor", "status"):
                del self.fields[name]
        use_money_format(self, company)

    def clean(self):
        data = super().clean()
        direction = data.get("direction")
        if direction == "incoming" and not data.get("customer"):
            self.add_error("customer", "Choose the customer who pays.")
        if direction == "outgoing" and not data.get("vendor"):
            self.add_error("vendor", "Choose the vendor you pay.")
        return data


class ApplyForm(forms.Form):
    target = forms.ModelChoiceField(queryset=None, label="Apply to")
    amount = MoneyField(label="Amount", required=True)
    applied_on = forms.DateField(label="Application date", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets


class CustomerCreditForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=None)
    kind = forms.ChoiceField(choices=[])
    credit_date = forms.DateField(label="Credit date", widget=forms.DateInput(attrs={"type": "date"}))
    amount = MoneyField(label="Amount", required=True)
    payment = forms.ModelChoiceField(queryset=None, required=False, help_text="For an overpayment credit.")
    memo = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, company, **kwargs):
        from .models import Customer, CustomerCredit, Payment

        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(company=company).order_by("name")
        self.fields["kind"].choices = CustomerCredit.Kind.choices
        self.fields["payment"].queryset = Payment.objects.filter(company=company, direction="incoming")
        use_money_format(self, company)


class RefundForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=None)
    refund_date = forms.DateField(label="Refund date", widget=forms.DateInput(attrs={"type": "date"}))
    amount = MoneyField(label="Amount", required=True)
    memo = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, company, **kwargs):
        from .models import Customer

        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(company=company).order_by("name")
        use_money_format(self, company)


class CustomerCreditEditForm(forms.Form):
    """Edit a customer credit: its customer and kind stay (delete it and give a new one to change those)."""

    credit_date = forms.DateField(label="Credit date", widget=forms.DateInput(attrs={"type": "date"}))
    amount = MoneyField(label="Amount", required=True)
    memo = forms.CharField(max_length=500, required=False)


class RefundEditForm(forms.Form):
    refund_date = forms.DateField(label="Refund date", widget=forms.DateInput(attrs={"type": "date"}))
    amount = MoneyField(label="Amount", required=True)
    memo = forms.CharField(max_length=500, required=False)


class ReasonForm(forms.Form):
    """The reason recorded in the audit trail for a delete or a reversal (PC6)."""

    reason = forms.CharField(label="Reason", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class EntityClosedDateForm(forms.Form):
    """One entity's own books-closed date (BC9); empty means the entity follows the company's date."""

    entity = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput)
    closed_date = forms.DateField(
        label="Books closed date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a valid date (YYYY-MM-DD)."},
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=1000,
        help_text="Needed when you move the date earlier: that reopens days (BC3).",
    )

    def __init__(self, *args, company, **kwargs):
        from .models import LedgerEntity

        super().__init__(*args, **kwargs)
        self.fields["entity"].queryset = LedgerEntity.objects.filter(company=company)
        self.fields["entity"].error_messages["invalid_choice"] = "Choose an entity of this company."
