"""The load scenario's close checklist and API key (scripts/load.sh, after ``load_prepare``): a
template of ten tasks, last month's checklist, and a read key for the API's date check. Prints
one JSON object (merged into LOAD_INFO). Running it again keeps the checklist and makes a new key
(the old load keys are revoked: a key is shown only once)."""

import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from closebooks import selectors as close_selectors
from closebooks.api import services as api_services
from closebooks.api.models import ApiKey
from closebooks.checklist import services as checklist_services
from closebooks.checklist.models import ChecklistTask, TaskTemplate
from ledger import services as ledger_services
from ledger.models import Company, Role

TASKS = [
    ("Accruals", 1),
    ("Prepaid amortisation", 1),
    ("Payroll journal", 2),
    ("Bank reconciliation: operating", 2),
    ("Bank reconciliation: payroll", 2),
    ("Credit card reconciliation", 3),
    ("Fixed assets and depreciation", 3),
    ("Balance sheet reconciliations", 4),
    ("Flux review", 6),
    ("Management pack", 8),
]


class Command(BaseCommand):
    help = "Prepare the load company's close checklist and an API key; prints one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="load")
        parser.add_argument("--username", default="load")

    def handle(self, *args, slug, username, **options):
        company = Company.objects.filter(slug=slug).first()
        user = get_user_model().objects.filter(username=username).first()
        if company is None or user is None:
            raise CommandError(f"Run load_prepare first: no company “{slug}” or user “{username}”.")
        reviewer, _ = get_user_model().objects.get_or_create(username=f"{username}-reviewer", defaults={"email": ""})
        ledger_services.membership_set_role(company=company, user=reviewer, role=Role.ACCOUNTANT, actor=None)
        existing = set(TaskTemplate.objects.filter(company=company).values_list("name", flat=True))
        previous = None
        for index, (name, due_day) in enumerate(TASKS):
            if name in existing:
                previous = TaskTemplate.objects.get(company=company, name=name)
                continue
            preparer, checker = (user, reviewer) if index % 2 == 0 else (reviewer, user)
            previous = checklist_services.template_task_save(
                company=company,
                actor=None,
                name=name,
                instructions=f"{name} for the month, with the workpaper attached.",
                preparer=preparer,
                reviewer=checker,
                due_day=due_day,
                depends_on=[previous] if name == "Flux review" and previous else [],
            )
        last_month = (company.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        period = close_selectors.period_get(company, last_month)
        checklist_services.checklist_create(period=period, actor=None)
        task = ChecklistTask.objects.filter(company=company, checklist__month=period.month, builtin="").order_by("id").first()
        for old in ApiKey.objects.filter(company=company, name="load", revoked_at__isnull=True):
            api_services.api_key_revoke(key=old, actor=None)
        key = api_services.api_key_create(company=company, actor=None, name="load", scope=ApiKey.Scope.READ)
        self.stdout.write(json.dumps({"checklist_period": period.key, "task_id": task.pk, "api_key": key.plaintext}))
