"""Two companies holding one row of every kind, and a user per role, built once per test module.

``world_module_fixture`` opens a transaction around the whole module and rolls it back at the end;
each test runs inside its own savepoint (pytest-django's ``db``), so a POST that deletes or voids
something is undone before the next test sees the world."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from closebooks.api import services as api_services
from closebooks.api.models import ApiCall, WebhookDelivery
from closebooks.checklist import services as checklist_services
from closebooks.checklist.models import TaskAttachment
from closebooks.models import Period
from closebooks.month_end.models import CheckAcceptance
from integrations.models import (
    AccountMapping,
    Connection,
    ConnectionEntity,
    ExternalAccount,
    ExternalItem,
    InboundRecord,
    OutboxEntry,
    SyncRun,
)
from ledger import services
from ledger.models import Application, Company, Role
from reconciliation import services as reconciliation_services
from tests import factories
from tests.reconciliation.factories import make_books

ROLES = ("anonymous", "nonmember", Role.VIEWER, Role.ACCOUNTANT, Role.MANAGER, Role.ADMINISTRATOR)
MEMBER_ROLES = (Role.VIEWER, Role.ACCOUNTANT, Role.MANAGER, Role.ADMINISTRATOR)
PERIOD = "2026-03"


@dataclass
class Side:
    """One company and a row of every kind in it, by name (the names the ACCESS table uses), and
    its API keys' plaintexts by scope."""

    company: Company
    objects: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)


@dataclass
class World:
    own: Side
    foreign: Side
    users: dict  # role -> user; members hold their role in ``own``; "nonmember" holds one only in ``foreign``


def _side(name: str) -> Side:
    company = factories.CompanyFactory(name=f"{name} Ltd", slug=f"sec-{name}")
    books = make_books(company)
    entry = books.post("40.00", ref="R1").entry
    open_line = books.post("25.00", on=date(2026, 2, 3), ref="R2")
    close_line = books.post("-25.00", on=date(2026, 2, 4), ref="R2")
    (reconciliation,) = reconciliation_services.reconciliation_create_manual(
        company=company, account=books.account, line_ids=[open_line.pk, close_line.pk], actor=None
    )
    proposal = reconciliation_services.proposal_create(company=company, account=books.account, actor=None)

    invoice = factories.document(company, "invoice")
    credit_memo = factories.document(company, "credit_memo", party=invoice.customer, amount="10.00")
    bill = factories.document(company, "bill")
    vendor_credit = factories.document(company, "vendor_credit", party=bill.vendor, amount="5.00")
    services.credit_apply(credit=credit_memo, target=invoice, amount=Decimal("10.00"), actor=None, applied_on=date(2026, 3, 20))
    payment = factories.payment(company, party=invoice.customer, amount="30.00")
    credit = services.customer_credit_create(
        company=company, customer=invoice.customer, kind="manual", credit_date=date(2026, 3, 12), amount="15.00", actor=None
    )
    refund = services.refund_create(
        company=company, customer=invoice.customer, refund_date=date(2026, 3, 13), amount="5.00", actor=None
    )
    entity = factories.LedgerEntityFactory(company=company)
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2025, 12, 31))

    now = timezone.now()
    connection = Connection.objects.create(
        company=company,
        provider=Connection.Provider.QBO,
        tenant_id=f"realm-{name}",
        authorize_url="https://vendor.invalid/authorize",
        token_url="https://vendor.invalid/token",
        api_base_url="https://vendor.invalid/api",
        access_token=f"access-{name}",
        refresh_token=f"refresh-{name}",
    )
    external = ExternalAccount.objects.create(connection=connection, external_id="1", name="Cash", pulled_at=now)
    run = SyncRun.objects.create(company=company, connection=connection)
    period = Period.objects.create(company=company, month=date(2026, 3, 1))
    objects = {
        "account": books.account,
        "entry": entry,
        "invoice": invoice,
        "credit_memo": credit_memo,
        "bill": bill,
        "vendor_credit": vendor_credit,
        "payment": payment,
        "customer_credit": credit,
        "refund": refund,
        "application": Application.objects.filter(company=company).first(),
        "customer": invoice.customer,
        "vendor": bill.vendor,
        "ledger_entity": entity,
        "reconciliation": reconciliation,
        "proposal": proposal,
        "connection": connection,
        "connection_entity": ConnectionEntity.objects.create(connection=connection, external_id="L1", name="Main"),
        "external_account": external,
        "external_item": ExternalItem.objects.create(
            connection=connection, external_id="I1", name="Consulting", income_account_id="80000001", pulled_at=now
        ),
        "mapping": AccountMapping.objects.create(connection=connection, account=books.counter, external_account=external),
        "run": run,
        "outbox": OutboxEntry.objects.create(connection=connection, entry=entry, run=run),
        "inbound": InboundRecord.objects.create(
            connection=connection, kind="invoice", external_id="X1", state="skipped", pulled_at=now
        ),
        "period": period,
        "acceptance": CheckAcceptance.objects.create(
            company=company,
            first_day=date(2026, 3, 1),
            last_day=date(2026, 3, 31),
            rule="MR1",
            difference=Decimal("1.00"),
            expected=Decimal("1.00"),
            actual=Decimal("0.00"),
            reason="Known timing difference",
        ),
    }
    objects.update(_close_team(name, company, objects))
    read = api_services.api_key_create(company=company, actor=None, name="read", scope="read")
    post = api_services.api_key_create(company=company, actor=None, name="post", scope="post")
    hook = api_services.webhook_create(
        company=company, actor=None, url=f"https://hooks-{name}.example.com/in", events=["period.locked"]
    ).endpoint
    objects.update(
        {
            "api_key": read.key,
            "api_call": ApiCall.objects.create(company=company, key=read.key, method="GET", path="/api/v1/", status=200),
            "webhook": hook,
            "delivery": WebhookDelivery.objects.create(
                endpoint=hook, company=company, event="period.locked", payload={}, status=WebhookDelivery.Status.FAILED
            ),
        }
    )
    return Side(company, objects, keys={"read": read.plaintext, "post": post.plaintext})


def _close_team(name: str, company: Company, objects: dict) -> dict:
    """A checklist for PERIOD with one task of the company's own, prepared and reviewed by two of its accountants."""
    preparer = factories.member(company, Role.ACCOUNTANT, username=f"sec-{name}-preparer")
    reviewer = factories.member(company, Role.ACCOUNTANT, username=f"sec-{name}-reviewer")
    template = checklist_services.template_task_save(
        company=company, actor=None, name="Accruals", preparer=preparer, reviewer=reviewer, due_day=2
    )
    checklist = checklist_services.checklist_create(period=objects["period"], actor=None)
    task = checklist.tasks.get(template=template)
    attachment = TaskAttachment.objects.create(task=task, name="workpaper.txt", content_type="text/plain", size=2, data=b"ok")
    return {"task_template": template, "checklist": checklist, "task": task, "attachment": attachment}


def build() -> World:
    own, foreign = _side("own"), _side("foreign")
    users = {"anonymous": None}
    for role in MEMBER_ROLES:
        users[role] = factories.member(own.company, role, username=f"sec-{role}", is_staff=True)
    users["nonmember"] = factories.member(foreign.company, Role.ADMINISTRATOR, username="sec-nonmember", is_staff=True)
    return World(own, foreign, users)


def world_module_fixture(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)
