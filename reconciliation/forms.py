from django import forms

from ledger.forms import MoneyField, parse_id, use_money_format
from ledger.models import Account

from .models import ReconciliationSettings


class ReconciliationSettingsForm(forms.Form):
    permitted_difference = MoneyField(
        label="Permitted difference",
        help_text="Groups whose balance is within this amount are reconciled and the difference written off (LR4).",
    )
    discrepancy_account = forms.ModelChoiceField(
        queryset=Account.objects.none(), required=False, label="Balancing-discrepancies account"
    )

    def __init__(self, *args, company, instance: ReconciliationSettings, **kwargs):
        kwargs.setdefault(
            "initial",
            {"permitted_difference": instance.permitted_difference, "discrepancy_account": instance.discrepancy_account_id},
        )
        super().__init__(*args, **kwargs)
        self.fields["discrepancy_account"].queryset = Account.objects.filter(company=company, blocked=False).order_by("code")
        use_money_format(self, company)


class AccountPropertiesForm(forms.Form):
    reconcilable = forms.BooleanField(required=False, label="Reconciliation on", help_text="LR1")
    reconcile_with = forms.ModelChoiceField(
        queryset=Account.objects.none(),
        required=False,
        label="Reconcile against",
        help_text="Optional: the reconcile view then shows the lines of both accounts.",
    )

    def __init__(self, *args, account: Account, **kwargs):
        kwargs.setdefault("initial", {"reconcilable": account.reconcilable, "reconcile_with": account.reconcile_with_id})
        super().__init__(*args, **kwargs)
        self.fields["reconcile_with"].queryset = (
            Account.objects.filter(company_id=account.company_id).exclude(pk=account.pk).order_by("code")
        )


def line_ids(value, *, strict: bool = True) -> list[int]:
    """Journal line ids as "1,2,3" (a GET parameter) or repeated values (checkboxes). A part that
    is not an id is refused with a ReconciliationError (shown where the user is), or skipped
    when ``strict`` is off (a prefill from a link)."""
    from .exceptions import ReconciliationError

    parts = [str(v) for v in value] if isinstance(value, list | tuple) else (value or "").replace(" ", "").split(",")
    ids = []
    for part in parts:
        if not part.strip():
            continue
        number = parse_id(part)
        if number is None:
            if strict:
                raise ReconciliationError("Line ids must be numbers.", field="lines")
            continue
        ids.append(number)
    return ids
