from django import forms

from .models import ApiKey, WebhookEndpoint


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The system that uses it, e.g. “Payroll”.")
    scope = forms.ChoiceField(choices=ApiKey.Scope.choices, initial=ApiKey.Scope.READ)
    expires_at = forms.DateTimeField(
        required=False, label="Expires", help_text="Optional, YYYY-MM-DD HH:MM (UTC).", widget=forms.DateTimeInput()
    )


class WebhookForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL", help_text="https://… where your system receives the events.")
    events = forms.MultipleChoiceField(choices=WebhookEndpoint.Event.choices, widget=forms.CheckboxSelectMultiple)
