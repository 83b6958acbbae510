"""The demo company's close team and checklist (`make run`, after ``seed_demo``): a reviewer
colleague, a month-end template of the usual tasks, and last month's checklist, so Close your
books, the checklist and My tasks have something to show. Running it twice changes nothing."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from closebooks import selectors as close_selectors
from closebooks.checklist import services as checklist_services
from closebooks.checklist.models import TaskTemplate
from ledger import services as ledger_services
from ledger.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG, DEMO_USERNAME
from ledger.models import Company, Role

REVIEWER = "demo-reviewer"
# (name, due working day, instructions, prepared by the demo user?, page)
TASKS = [
    ("Accruals", 1, "Accrue unbilled expenses: rent, utilities, professional fees.", True, "journal"),
    ("Prepaid amortisation", 1, "Amortise prepaid insurance and software for the month.", False, "journal"),
    ("Payroll journal", 2, "Book the payroll run and the payroll taxes payable.", True, "journal"),
    ("Bank reconciliation", 2, "Reconcile the operating, payroll and savings accounts to the statements.", False, "reconcile"),
    ("Balance sheet reconciliations", 4, "Tie every balance sheet account to its support.", True, "reconcile"),
    ("Flux review", 7, "Explain month-over-month changes above 10% and 5,000.", False, "month_end"),
]


class Command(BaseCommand):
    help = "Create the demo company's close checklist and a reviewer colleague; idempotent."

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=DEMO_SLUG).first()
        demo = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if company is None or demo is None:
            self.stdout.write("No demo company: run seed_demo first.")
            return
        if TaskTemplate.objects.filter(company=company, builtin="").exists():
            self.stdout.write("The demo checklist exists already; nothing changed.")
            return
        with transaction.atomic():
            reviewer = get_user_model().objects.filter(username=REVIEWER).first()
            if reviewer is None:
                reviewer = get_user_model().objects.create_user(
                    REVIEWER, email="reviewer@example.com", password=DEMO_PASSWORD, first_name="Riley", last_name="Review"
                )
            ledger_services.membership_set_role(company=company, user=reviewer, role=Role.MANAGER, actor=demo)
            made = {}
            for name, due_day, instructions, mine, link in TASKS:
                made[name] = checklist_services.template_task_save(
                    company=company,
                    actor=demo,
                    name=name,
                    instructions=instructions,
                    preparer=demo if mine else reviewer,
                    reviewer=reviewer if mine else demo,
                    due_day=due_day,
                    depends_on=[made["Accruals"], made["Bank reconciliation"]] if name == "Flux review" else [],
                    link=link,
                )
            last_month = company.today().replace(day=1) - timedelta(days=1)
            period = close_selectors.period_get(company, last_month.strftime("%Y-%m"))
            checklist_services.checklist_create(period=period, actor=demo)
        ready = f"Demo close checklist ready for {period.name}; the reviewer signs in as {REVIEWER} / {DEMO_PASSWORD}"
        self.stdout.write(self.style.SUCCESS(ready))
