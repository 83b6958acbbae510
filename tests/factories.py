"""factory-boy factories for every model. They build rows in their initial state; later states
are reached through services so tests walk the real path."""

import itertools
from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from ledger import services
from ledger.models import Account, AuditEvent, Company, Customer, JournalEntry, JournalLine, Membership, Role, Vendor

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    time_zone = "UTC"
    base_currency = "USD"


class MembershipFactory(factory.django.DjangoModelFactory):
    """A membership row created through the role service, so the permissions come with it."""

    class Meta:
        model = Membership

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER

    @classmethod
    def _create(cls, model_class, company, user, role, **kwargs):
        return services.membership_set_role(company=company, user=user, role=role, actor=None)


def member(company: Company, role: str, **user_kwargs):
    return MembershipFactory(company=company, role=role, user=UserFactory(**user_kwargs)).user


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("company", "code")  # a code a test names may already be in a pulled chart

    company = factory.SubFactory(CompanyFactory)
    code = factory.Sequence(lambda n: f"{1000 + n}")
    name = factory.Sequence(lambda n: f"Account {n}")
    type = Account.Type.ASSET


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Vendor {n}")


class JournalEntryFactory(factory.django.DjangoModelFactory):
    """A balanced two-line entry posted through the posting service."""

    class Meta:
        model = JournalEntry

    company = factory.SubFactory(CompanyFactory)
    entry_date = date(2026, 1, 15)
    memo = factory.Sequence(lambda n: f"Entry {n}")
    source = JournalEntry.Source.MANUAL

    @classmethod
    def _create(cls, model_class, company, entry_date, memo, source, amount=Decimal("100.00"), lines=None, **kwargs):
        if lines is None:
            debit = AccountFactory(company=company, type=Account.Type.EXPENSE)
            credit = AccountFactory(company=company, type=Account.Type.LIABILITY)
            lines = [services.LineInput(debit, debit=amount), services.LineInput(credit, credit=amount)]
        return services.journal_entry_create(
            company=company, entry_date=entry_date, lines=lines, memo=memo, source=source, actor=kwargs.get("actor")
        )


class JournalLineFactory(factory.django.DjangoModelFactory):
    """A raw line row, for tests of what the database itself enforces (it bypasses the service)."""

    class Meta:
        model = JournalLine

    entry = factory.SubFactory(JournalEntryFactory)
    company = factory.SelfAttribute("entry.company")
    entry_date = factory.SelfAttribute("entry.entry_date")
    account = factory.SubFactory(AccountFactory, company=factory.SelfAttribute("..company"))
    debit = Decimal("10.00")
    credit = Decimal("0.00")
    currency = "USD"
    line_no = 99


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    company = factory.SubFactory(CompanyFactory)
    action = "test.event"
    subject_type = "Company"


# ---------------------------------------------------------------- books-closed date and AR/AP documents (issue 3)


class LedgerEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "ledger.LedgerEntity"

    company = factory.SubFactory(CompanyFactory)
    key = factory.Sequence(lambda n: f"E{n}")
    name = factory.Sequence(lambda n: f"Entity {n}")


_numbers = itertools.count(1)


def document(company, kind="invoice", doc_date=date(2026, 3, 10), amount="100.00", tax="0.00", party=None, number=None, **kwargs):
    """An open document posted through ``document_create`` (the real path, guard included)."""
    from ledger.models import Document

    if party is None:
        party = (CustomerFactory if kind in Document.CUSTOMER_KINDS else VendorFactory)(company=company)
    account = AccountFactory(
        company=company, type=Account.Type.REVENUE if kind in Document.CUSTOMER_KINDS else Account.Type.EXPENSE
    )
    number = number or f"{kind[:2].upper()}-{next(_numbers)}"
    return services.document_create(
        company=company,
        kind=kind,
        actor=kwargs.pop("actor", None),
        number=number,
        party=party,
        doc_date=doc_date,
        lines=[services.DocumentLineInput(account, amount=amount, tax=tax, description="Services")],
        **kwargs,
    )


def payment(
    company, direction="incoming", process_date=date(2026, 3, 10), amount="100.00", status="recorded", party=None, **kwargs
):
    """A payment created through ``payment_create``."""
    if party is None:
        party = (CustomerFactory if direction == "incoming" else VendorFactory)(company=company)
    return services.payment_create(
        company=company,
        direction=direction,
        party=party,
        process_date=process_date,
        amount=amount,
        status=status,
        actor=kwargs.pop("actor", None),
        **kwargs,
    )


def close_books(company, through, *, restrict_inbound=False):
    """Turn closed books on through ``through`` as the system would (no actor)."""
    services.books_closed_update(
        company=company, actor=None, enabled=True, closed_date=through, restrict_inbound=restrict_inbound
    )
