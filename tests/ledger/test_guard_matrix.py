"""The books-closed matrix (BC4, BC5, BC6): every operation × inside/outside the closed period ×
every path that can write it, with the outcome each cell must have.

Paths: ``guard`` (the function itself), ``service``, ``page``, ``admin``, and the writes that skip
the services (``bulk_create``, ``queryset`` = QuerySet.update/delete, ``raw_sql``), which only the
PostgreSQL trigger can stop. Inbound paths run with "Restrict inbound transactions" off and on and
with the QuickBooks Desktop receivable-invoice policy. One table drives guard and trigger alike.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ledger import services
from ledger.exceptions import BooksClosedError
from ledger.guard import QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES, Inbound, Operation, books_closed_check
from ledger.models import (
    Account,
    Application,
    BooksClosedSetting,
    Company,
    Customer,
    CustomerCredit,
    Document,
    JournalEntry,
    JournalLine,
    Payment,
    Refund,
    Role,
    Vendor,
)
from tests.factories import (
    AccountFactory,
    CompanyFactory,
    CustomerFactory,
    JournalEntryFactory,
    VendorFactory,
    close_books,
    document,
    payment,
)
from tests.factories import member as factories_member
from tests.ledger.test_views import entry_form

pytestmark = pytest.mark.django_db

CLOSED = date(2026, 1, 31)
DAY = {"inside": date(2026, 1, 15), "outside": date(2026, 3, 10)}
REFUSED, ALLOWED = "refused", "allowed"
KINDS = ["invoice", "bill", "credit_memo", "vendor_credit"]


class Refused(Exception):
    pass


@dataclass
class World:
    company: object
    user: object
    customer: object
    vendor: object
    revenue: object
    expense: object
    docs: dict
    open_invoice: object
    open_bill: object
    entries: dict
    recorded: dict
    scheduled: dict
    credits: dict
    refunds: dict
    client: object


def _build_world_rows() -> dict:
    """Create the world's rows through the services (the real paths, guard included) and return their ids."""
    company = CompanyFactory()
    user = factories_member(company, Role.ADMINISTRATOR)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    customer, vendor = CustomerFactory(company=company), VendorFactory(company=company)
    revenue = AccountFactory(company=company, type=Account.Type.REVENUE)
    expense = AccountFactory(company=company, type=Account.Type.EXPENSE)

    def party(kind):
        return customer if kind in Document.CUSTOMER_KINDS else vendor

    docs = {(k, w): document(company, k, doc_date=DAY[w], party=party(k), amount="50.00").pk for k in KINDS for w in DAY}
    rows = {
        "company": company.pk,
        "user": user.pk,
        "customer": customer.pk,
        "vendor": vendor.pk,
        "revenue": revenue.pk,
        "expense": expense.pk,
        "docs": docs,
        "open_invoice": document(company, "invoice", doc_date=DAY["outside"], party=customer, amount="500.00").pk,
        "open_bill": document(company, "bill", doc_date=DAY["outside"], party=vendor, amount="500.00").pk,
        "entries": {w: JournalEntryFactory(company=company, entry_date=DAY[w]).pk for w in DAY},
        "recorded": {w: payment(company, process_date=DAY[w], party=customer, status="recorded").pk for w in DAY},
        "scheduled": {w: payment(company, process_date=DAY[w], party=customer, status="scheduled").pk for w in DAY},
        "credits": {
            w: services.customer_credit_create(
                company=company, customer=customer, kind="manual", credit_date=DAY[w], amount="50.00", actor=None
            ).pk
            for w in DAY
        },
    }
    rows["refunds"] = {
        w: services.refund_create(company=company, customer=customer, refund_date=DAY[w], amount="10.00", actor=None).pk
        for w in DAY
    }
    close_books(company, CLOSED)
    return rows


@pytest.fixture(scope="module")
def world_rows(django_db_setup, django_db_blocker):
    """The world is built once per module inside an outer transaction that is rolled back at the
    end; each cell's test runs in its own savepoint inside it (pytest-django's ``db``), so every
    cell still starts from the same untouched world and nothing a cell writes reaches the next."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_world_rows()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(world_rows, db, client):
    """Fresh instances of the world's rows for one cell (a few in_bulk queries, not the services)."""
    r = world_rows
    company = Company.objects.get(pk=r["company"])
    user = get_user_model().objects.get(pk=r["user"])
    documents = Document.objects.in_bulk([*r["docs"].values(), r["open_invoice"], r["open_bill"]])
    for d in documents.values():
        d.company = company
    payments = Payment.objects.in_bulk([*r["recorded"].values(), *r["scheduled"].values()])
    entries = JournalEntry.objects.in_bulk(list(r["entries"].values()))
    accounts = Account.objects.in_bulk([r["revenue"], r["expense"]])
    client.force_login(user)
    return World(
        company=company,
        user=user,
        customer=Customer.objects.get(pk=r["customer"]),
        vendor=Vendor.objects.get(pk=r["vendor"]),
        revenue=accounts[r["revenue"]],
        expense=accounts[r["expense"]],
        docs={key: documents[pk] for key, pk in r["docs"].items()},
        open_invoice=documents[r["open_invoice"]],
        open_bill=documents[r["open_bill"]],
        entries={w: entries[pk] for w, pk in r["entries"].items()},
        recorded={w: payments[pk] for w, pk in r["recorded"].items()},
        scheduled={w: payments[pk] for w, pk in r["scheduled"].items()},
        credits={w: CustomerCredit.objects.get(pk=pk) for w, pk in r["credits"].items()},
        refunds={w: Refund.objects.get(pk=pk) for w, pk in r["refunds"].items()},
        client=client,
    )


def fingerprint(company):
    return (
        list(Document.objects.filter(company=company).order_by("id").values_list("id", "doc_date", "total", "status", "memo")),
        list(JournalLine.objects.filter(company=company).order_by("id").values_list("id", "entry_date", "debit", "credit")),
        list(Payment.objects.filter(company=company).order_by("id").values_list("id", "process_date", "amount", "status")),
        Application.objects.filter(company=company).count(),
        list(CustomerCredit.objects.filter(company=company).order_by("id").values_list("id", "credit_date", "amount")),
        list(Refund.objects.filter(company=company).order_by("id").values_list("id", "refund_date", "amount")),
    )


# ---------------------------------------------------------------- how each path performs each operation


def _copy_row_sql(table, pk, overrides):
    """INSERT a copy of row ``pk`` of ``table`` with ``overrides`` (column -> SQL expression)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} LIMIT 0")
        columns = [c.name for c in cursor.description if c.name != "id"]
    select = ", ".join(overrides.get(c, c) for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} WHERE id = {int(pk)}"


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def page_post(w, url, data):
    response = w.client.post(url, data, follow=True)
    assert response.status_code == 200, response.status_code
    text = response.content.decode()
    if "closed through 2026-01-31" in text:
        raise Refused(text)


def admin_action(w, model, action, pk):
    page_post(w, reverse(f"admin:ledger_{model}_changelist"), {"action": action, "_selected_action": [pk]})


def document_form(w, kind, day, number):
    party = w.customer if kind in Document.CUSTOMER_KINDS else w.vendor
    account = w.revenue if kind in Document.CUSTOMER_KINDS else w.expense
    return {
        "number": number,
        "party": party.pk,
        "doc_date": day.isoformat(),
        "due_date": "",
        "memo": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
        "lines-0-account": account.pk,
        "lines-0-description": "Work",
        "lines-0-amount": "75.00",
        "lines-0-tax": "0",
    }


def new_document_row(w, kind, day, **extra):
    party = {"customer": w.customer} if kind in Document.CUSTOMER_KINDS else {"vendor": w.vendor}
    return Document(
        company=w.company,
        kind=kind,
        number=f"BULK-{kind}-{day}",
        doc_date=day,
        currency="USD",
        subtotal=Decimal("10.00"),
        total=Decimal("10.00"),
        **party,
        **extra,
    )


def create_document(kind):
    url_names = {
        "invoice": "invoice_new",
        "bill": "bill_new",
        "credit_memo": "credit_memo_new",
        "vendor_credit": "vendor_credit_new",
    }
    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.DOCUMENT_CREATE, on_date=DAY[when]),
        "service": lambda w, when: document(
            w.company, kind, doc_date=DAY[when], party=w.customer if kind in Document.CUSTOMER_KINDS else w.vendor
        ),
        "page": lambda w, when: page_post(
            w, reverse(f"ledger:{url_names[kind]}", kwargs={"slug": w.company.slug}), document_form(w, kind, DAY[when], "P-1")
        ),
        "bulk_create": lambda w, when: Document.objects.bulk_create([new_document_row(w, kind, DAY[when])]),
        "raw_sql": lambda w, when: raw(
            _copy_row_sql(
                "ledger_document", w.docs[(kind, "outside")].pk, {"number": "'RAW-1'", "doc_date": f"'{DAY[when]}'::date"}
            )
        ),
    }


def edit_document(kind):
    def service(w, when):
        d = w.docs[(kind, when)]
        services.document_update(
            document=d,
            actor=w.user,
            number=d.number,
            party=d.party,
            doc_date=d.doc_date,
            lines=[services.DocumentLineInput(d.lines[0]["account"], amount="60.00")],
        )

    def page(w, when):
        d = w.docs[(kind, when)]
        page_post(
            w,
            reverse("ledger:document_edit", kwargs={"slug": w.company.slug, "pk": d.pk}),
            document_form(w, kind, d.doc_date, d.number),
        )

    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.DOCUMENT_EDIT, on_date=DAY[when]),
        "service": service,
        "page": page,
        "queryset": lambda w, when: Document.objects.filter(pk=w.docs[(kind, when)].pk).update(
            subtotal=F("subtotal") + 1, total=F("total") + 1
        ),
        "raw_sql": lambda w, when: raw("UPDATE ledger_document SET memo = 'changed' WHERE id = %s", [w.docs[(kind, when)].pk]),
    }


def delete_document(kind):
    model = {"invoice": "invoice", "bill": "bill", "credit_memo": "creditmemo", "vendor_credit": "vendorcredit"}[kind]
    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.DOCUMENT_DELETE, on_date=DAY[when]),
        "service": lambda w, when: services.document_delete(document=w.docs[(kind, when)], actor=w.user),
        "page": lambda w, when: page_post(
            w, reverse("ledger:document_delete", kwargs={"slug": w.company.slug, "pk": w.docs[(kind, when)].pk}), {}
        ),
        "admin": lambda w, when: admin_action(w, model, "delete_through_service", w.docs[(kind, when)].pk),
        "queryset": lambda w, when: Document.objects.filter(pk=w.docs[(kind, when)].pk).delete(),
        "raw_sql": lambda w, when: raw("DELETE FROM ledger_document WHERE id = %s", [w.docs[(kind, when)].pk]),
    }


def _entry_lines(w, amount="20.00"):
    return [services.LineInput(w.expense, debit=amount), services.LineInput(w.revenue, credit=amount)]


def _bulk_lines(w, when):
    entry = JournalEntry.objects.create(company=w.company, entry_date=DAY[when], memo="bulk")
    JournalLine.objects.bulk_create(
        [
            JournalLine(
                entry=entry, company=w.company, entry_date=DAY[when], account=w.expense, debit=Decimal("5.00"), currency="USD"
            ),
            JournalLine(
                entry=entry, company=w.company, entry_date=DAY[when], account=w.revenue, credit=Decimal("5.00"), currency="USD"
            ),
        ]
    )


CREATE_ENTRY = {
    "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.ENTRY_CREATE, on_date=DAY[when]),
    "service": lambda w, when: services.journal_entry_create(
        company=w.company, entry_date=DAY[when], lines=_entry_lines(w), actor=w.user
    ),
    "page": lambda w, when: page_post(
        w,
        reverse("ledger:journal_entry_new", kwargs={"slug": w.company.slug}),
        entry_form([(w.expense.pk, "20.00", ""), (w.revenue.pk, "", "20.00")], entry_date=DAY[when].isoformat()),
    ),
    "bulk_create": _bulk_lines,
    "raw_sql": lambda w, when: raw(
        _copy_row_sql(
            "ledger_journalline",
            w.entries["outside"].lines.first().pk,
            {"entry_id": str(w.entries[when].pk), "entry_date": f"'{DAY[when]}'::date", "line_no": "50"},
        )
    ),
}

EDIT_ENTRY = {
    "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.ENTRY_EDIT, on_date=DAY[when]),
    "service": lambda w, when: services.journal_entry_update(
        entry=w.entries[when], entry_date=DAY[when], lines=_entry_lines(w, "30.00"), actor=w.user
    ),
    "page": lambda w, when: page_post(
        w,
        reverse("ledger:journal_entry_edit", kwargs={"slug": w.company.slug, "pk": w.entries[when].pk}),
        entry_form([(w.expense.pk, "30.00", ""), (w.revenue.pk, "", "30.00")], entry_date=DAY[when].isoformat()),
    ),
    "queryset": lambda w, when: JournalLine.objects.filter(entry=w.entries[when]).update(
        debit=F("debit") * 2, credit=F("credit") * 2
    ),
    "raw_sql": lambda w, when: raw(
        "UPDATE ledger_journalline SET debit = debit * 2, credit = credit * 2 WHERE entry_id = %s", [w.entries[when].pk]
    ),
}

DELETE_ENTRY = {
    "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.ENTRY_DELETE, on_date=DAY[when]),
    "service": lambda w, when: services.journal_entry_delete(entry=w.entries[when], actor=w.user),
    "page": lambda w, when: page_post(
        w, reverse("ledger:journal_entry_delete", kwargs={"slug": w.company.slug, "pk": w.entries[when].pk}), {}
    ),
    "admin": lambda w, when: admin_action(w, "journalentry", "delete_through_posting_service", w.entries[when].pk),
    "queryset": lambda w, when: JournalLine.objects.filter(entry=w.entries[when]).delete(),
    "raw_sql": lambda w, when: raw("DELETE FROM ledger_journalline WHERE entry_id = %s", [w.entries[when].pk]),
}


def create_payment(status):
    operation = Operation.PAYMENT_RECORD if status == "recorded" else Operation.PAYMENT_SCHEDULE
    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=operation, on_date=DAY[when]),
        "service": lambda w, when: payment(w.company, process_date=DAY[when], party=w.customer, status=status),
        "page": lambda w, when: page_post(
            w,
            reverse("ledger:payment_new", kwargs={"slug": w.company.slug}),
            {
                "direction": "incoming",
                "customer": w.customer.pk,
                "process_date": DAY[when].isoformat(),
                "amount": "12.00",
                "status": status,
            },
        ),
        "bulk_create": lambda w, when: Payment.objects.bulk_create(
            [
                Payment(
                    company=w.company,
                    direction="incoming",
                    customer=w.customer,
                    process_date=DAY[when],
                    amount=Decimal("12.00"),
                    currency="USD",
                    status=status,
                )
            ]
        ),
        "raw_sql": lambda w, when: raw(
            _copy_row_sql(
                "ledger_payment",
                w.recorded["outside"].pk,
                {"process_date": f"'{DAY[when]}'::date", "status": f"'{status}'", "journal_entry_id": "NULL"},
            )
        ),
    }


def apply_credit(kind):
    def target(w):
        return w.open_invoice if kind == "credit_memo" else w.open_bill

    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=Operation.CREDIT_APPLY, on_date=DAY[when]),
        "service": lambda w, when: services.credit_apply(
            credit=w.docs[(kind, when)], target=target(w), amount="10.00", actor=w.user
        ),
        "page": lambda w, when: page_post(
            w,
            reverse("ledger:document_apply", kwargs={"slug": w.company.slug, "pk": w.docs[(kind, when)].pk}),
            {"target": target(w).pk, "amount": "10.00", "applied_on": ""},
        ),
        "bulk_create": lambda w, when: Application.objects.bulk_create(
            [
                Application(
                    company=w.company,
                    target=target(w),
                    credit_document=w.docs[(kind, when)],
                    applied_on=w.company.today(),
                    amount=Decimal("10.00"),
                )
            ]
        ),
    }


def move_payment(to):
    operation = Operation.PAYMENT_VOID if to == "voided" else Operation.PAYMENT_CANCEL
    start = "recorded" if to == "voided" else "scheduled"
    action = "void_through_service" if to == "voided" else "cancel_through_service"

    def pick(w, when):
        return (w.recorded if start == "recorded" else w.scheduled)[when]

    stamp = "voided_at" if to == "voided" else "cancelled_at"
    return {
        "guard": lambda w, when: books_closed_check(
            company=w.company, operation=operation, on_date=DAY[when], payment_status=start
        ),
        "service": lambda w, when: services.payment_move(payment=pick(w, when), to=to, actor=w.user),
        "page": lambda w, when: page_post(
            w, reverse("ledger:payment_move", kwargs={"slug": w.company.slug, "pk": pick(w, when).pk}), {"to": to}
        ),
        "admin": lambda w, when: admin_action(w, "payment", action, pick(w, when).pk),
        "queryset": lambda w, when: Payment.objects.filter(pk=pick(w, when).pk).update(status=to, **{stamp: timezone.now()}),
        "raw_sql": lambda w, when: raw(
            f"UPDATE ledger_payment SET status = %s, {stamp} = now() WHERE id = %s", [to, pick(w, when).pk]
        ),
    }


def credit_or_refund(model, what, change):
    """Edit or delete (``change``) a customer credit or a refund (``what``) dated inside or outside."""
    table = f"ledger_{model.__name__.lower()}"
    date_field = "credit_date" if model is CustomerCredit else "refund_date"
    operation = Operation(f"{change} {what}")

    def pick(w, when):
        return (w.credits if model is CustomerCredit else w.refunds)[when]

    def service(w, when):
        obj = pick(w, when)
        if change == "delete":
            (services.customer_credit_delete if model is CustomerCredit else services.refund_delete)(
                **{"credit" if model is CustomerCredit else "refund": obj, "actor": w.user}
            )
        elif model is CustomerCredit:
            services.customer_credit_update(credit=obj, actor=w.user, credit_date=obj.credit_date, amount="60.00")
        else:
            services.refund_update(refund=obj, actor=w.user, refund_date=obj.refund_date, amount="12.00")

    def page(w, when):
        obj = pick(w, when)
        name = "customer_credit_edit" if model is CustomerCredit else "refund_edit"
        data = {"delete": "1"} if change == "delete" else {date_field: getattr(obj, date_field).isoformat(), "amount": "12.00"}
        page_post(w, reverse(f"ledger:{name}", kwargs={"slug": w.company.slug, "pk": obj.pk}), data)

    def queryset(w, when):
        rows = model.objects.filter(pk=pick(w, when).pk)
        rows.delete() if change == "delete" else rows.update(amount=F("amount") + 1)

    sql = f"DELETE FROM {table} WHERE id = %s" if change == "delete" else f"UPDATE {table} SET amount = amount + 1 WHERE id = %s"
    return {
        "guard": lambda w, when: books_closed_check(company=w.company, operation=operation, on_date=DAY[when]),
        "service": service,
        "page": page,
        "queryset": queryset,
        "raw_sql": lambda w, when: raw(sql, [pick(w, when).pk]),
    }


BC4 = {
    **{f"create {k}": create_document(k) for k in KINDS},
    **{f"edit {k}": edit_document(k) for k in KINDS},
    **{f"delete {k}": delete_document(k) for k in KINDS},
    "create journal entry": CREATE_ENTRY,
    "edit journal entry": EDIT_ENTRY,
    "delete journal entry": DELETE_ENTRY,
    "schedule payment": create_payment("scheduled"),
    "record payment": create_payment("recorded"),
    **{
        f"{change} {what}": credit_or_refund(model, what, change)
        for model, what in ((CustomerCredit, "customer credit"), (Refund, "refund"))
        for change in ("edit", "delete")
    },
}
BC5 = {
    "apply credit memo": apply_credit("credit_memo"),
    "apply vendor credit": apply_credit("vendor_credit"),
    "void payment": move_payment("voided"),
    "cancel payment": move_payment("cancelled"),
}


def expected(rule, when):
    return REFUSED if rule == "BC4" and when == "inside" else ALLOWED


CASES = [
    pytest.param(op, path, when, expected(rule, when), id=f"{rule}-{op}-{path}-{when}")
    for rule, table in (("BC4", BC4), ("BC5", BC5))
    for op, paths in table.items()
    for path in paths
    for when in DAY
]


def run(call, w, when):
    """Run one cell; answer ALLOWED or REFUSED, checking a refusal names the dates and changes nothing."""
    before = fingerprint(w.company)
    try:
        with transaction.atomic():
            call(w, when)
    except BooksClosedError as exc:
        assert str(CLOSED) in str(exc) and str(DAY[when]) in str(exc)
        outcome = REFUSED
    except IntegrityError as exc:
        assert "books closed" in str(exc), exc
        assert str(CLOSED) in str(exc)
        outcome = REFUSED
    except Refused:
        outcome = REFUSED
    else:
        return ALLOWED
    assert fingerprint(w.company) == before
    return outcome


@pytest.mark.parametrize(("operation", "path", "when", "outcome"), CASES)
def test_books_closed_matrix_BC4_BC5(world, operation, path, when, outcome):
    table = BC4 if operation in BC4 else BC5
    before = fingerprint(world.company)
    assert run(table[operation][path], world, when) == outcome
    if outcome == ALLOWED and path != "guard":
        assert fingerprint(world.company) != before


# ---------------------------------------------------------------- inbound (BC6)


def inbound_case(kind, mode):
    provider = "quickbooks_desktop" if mode == "qbd" else "xero"
    policy = QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES if mode == "qbd" else None
    inbound = Inbound(provider=provider, policy=policy)

    if kind == "journal entry":
        return {
            "guard": lambda w, when: books_closed_check(
                company=w.company, operation=Operation.ENTRY_CREATE, on_date=DAY[when], inbound=inbound
            ),
            "service": lambda w, when: services.journal_entry_create(
                company=w.company,
                entry_date=DAY[when],
                lines=_entry_lines(w),
                actor=None,
                source=JournalEntry.Source.INBOUND_SYNC,
                inbound=inbound,
            ),
            "bulk_create": lambda w, when: _bulk_inbound_lines(w, when),
        }
    return {
        "guard": lambda w, when: books_closed_check(
            company=w.company,
            operation=Operation.DOCUMENT_CREATE,
            on_date=DAY[when],
            inbound=Inbound(provider=provider, kind=kind, policy=policy),
        ),
        "service": lambda w, when: document(
            w.company,
            kind,
            doc_date=DAY[when],
            party=w.customer if kind == "invoice" else w.vendor,
            inbound=inbound,
        ),
        # An importer writing rows itself declares where they come from and the policy it applies.
        "bulk_create": lambda w, when: Document.objects.bulk_create(
            [new_document_row(w, kind, DAY[when], origin=provider, closed_period_policy=policy.name if policy else "")]
        ),
    }


def _bulk_inbound_lines(w, when):
    entry = JournalEntry.objects.create(company=w.company, entry_date=DAY[when], source=JournalEntry.Source.INBOUND_SYNC)
    JournalLine.objects.bulk_create(
        [
            JournalLine(
                entry=entry, company=w.company, entry_date=DAY[when], account=w.expense, debit=Decimal("5.00"), currency="USD"
            )
        ]
    )


def inbound_expected(kind, mode, when):
    if when == "outside" or mode == "restrict off":
        return ALLOWED
    if mode == "qbd" and kind == "invoice":
        return ALLOWED  # QuickBooks Desktop receivable invoices sync in even into a closed period
    return REFUSED


INBOUND_CASES = [
    pytest.param(kind, mode, path, when, inbound_expected(kind, mode, when), id=f"BC6-{mode}-{kind}-{path}-{when}")
    for mode in ("restrict off", "restrict on", "qbd")
    for kind in ("invoice", "bill", "journal entry")
    for path in ("guard", "service", "bulk_create")
    for when in DAY
]


@pytest.mark.parametrize(("kind", "mode", "path", "when", "outcome"), INBOUND_CASES)
def test_inbound_matrix_BC6(world, kind, mode, path, when, outcome):
    BooksClosedSetting.objects.filter(company=world.company, entity__isnull=True).update(restrict_inbound=mode != "restrict off")
    assert run(inbound_case(kind, mode)[path], world, when) == outcome


def test_a_document_let_in_by_the_qbd_policy_says_so(world):
    BooksClosedSetting.objects.filter(company=world.company).update(restrict_inbound=True)
    invoice = document(
        world.company,
        "invoice",
        doc_date=DAY["inside"],
        party=world.customer,
        inbound=Inbound(provider="quickbooks_desktop", policy=QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES),
    )
    assert invoice.closed_period_policy == "quickbooks_desktop:invoice" and invoice.origin == "quickbooks_desktop"
    assert invoice.journal_entry.closed_period_policy == "quickbooks_desktop:invoice"


# ---------------------------------------------------------------- the trigger's own edges


@pytest.mark.parametrize(("start", "to", "outcome"), [("deposited", "voided", REFUSED), ("recorded", "scheduled", REFUSED)])
def test_trigger_refuses_payment_moves_bc5_does_not_allow(world, start, to, outcome):
    pay = world.recorded["inside"]
    if start == "deposited":
        services.payment_move(payment=pay, to="deposited", actor=None)
    call = lambda w, when: Payment.objects.filter(pk=pay.pk).update(status=to)  # noqa: E731
    assert run(call, world, "inside") == outcome


def test_trigger_allows_changes_that_do_not_touch_figures(world):
    entry = world.entries["inside"]
    JournalLine.objects.filter(entry=entry).update(reconciliation_ref="R-1", description="noted")
    assert set(JournalLine.objects.filter(entry=entry).values_list("reconciliation_ref", flat=True)) == {"R-1"}


def test_trigger_is_off_while_closed_books_is_off(world):
    services.books_closed_enable(company=world.company, actor=None, enabled=False)
    JournalLine.objects.filter(entry=world.entries["inside"]).update(debit=F("debit") * 2, credit=F("credit") * 2)


def test_trigger_checks_each_entity_against_its_own_date_BC9(world):
    east = services.ledger_entity_ensure(company=world.company, key="EAST")
    services.books_closed_date_pull(company=world.company, entity=east, pulled_date=date(2026, 3, 31), source="sage_intacct")
    entry = world.entries["outside"]  # 10 March: open for the company, closed for EAST
    with pytest.raises(IntegrityError, match="books closed"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).update(entity=east)
    with pytest.raises(BooksClosedError, match="2026-03-31"):
        services.journal_entry_create(
            company=world.company, entry_date=DAY["outside"], lines=_entry_lines(world), actor=None, entity=east
        )
