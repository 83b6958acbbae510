from django import forms
from django.contrib.auth import get_user_model

from ledger.models import Membership

from .models import LINK_CHOICES, TaskTemplate


def member_choices(company):
    """Members of ``company``, by username (the service checks membership again)."""
    User = get_user_model()
    return User.objects.filter(pk__in=Membership.objects.filter(company=company).values("user_id")).order_by("username")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_username()


class TemplateTaskForm(forms.Form):
    name = forms.CharField(max_length=200)
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000)
    preparer = MemberChoiceField(queryset=None, required=False)
    reviewer = MemberChoiceField(queryset=None, required=False)
    due_day = forms.IntegerField(min_value=1, max_value=60, label="Due (working days after the period's end)", initial=3)
    depends_on = forms.ModelMultipleChoiceField(queryset=None, required=False, label="Waits for")
    link = forms.ChoiceField(choices=LINK_CHOICES, required=False, label="Link to a page")
    active = forms.BooleanField(required=False, initial=True, label="In the checklist of the next periods")

    def __init__(self, *args, company, template=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preparer"].queryset = member_choices(company)
        self.fields["reviewer"].queryset = member_choices(company)
        others = TaskTemplate.objects.filter(company=company)
        if template is not None:
            others = others.exclude(pk=template.pk)
        self.fields["depends_on"].queryset = others.order_by("due_day", "name")
        if template is not None and template.builtin:
            for name in ("name", "preparer", "reviewer"):
                self.fields[name].disabled = True
                self.fields[name].required = False


class PrepareForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)


class ReviewForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)


class SendBackForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


class ReassignForm(forms.Form):
    preparer = MemberChoiceField(queryset=None)
    reviewer = MemberChoiceField(queryset=None)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preparer"].queryset = member_choices(company)
        self.fields["reviewer"].queryset = member_choices(company)
