"""Reconciliation test helpers: a reconcilable account with lines posted through the posting service."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger import services as ledger_services
from ledger.models import Account, Company, JournalLine
from reconciliation import services
from tests.factories import AccountFactory


@dataclass
class Books:
    company: Company
    account: Account
    counter: Account
    discrepancy: Account

    def post(self, amount, on=date(2026, 1, 10), *, ref="", description="", account=None, actor=None) -> JournalLine:
        """Post ``amount`` (debit positive, credit negative) on the reconciled account, against the counter account."""
        amount = Decimal(str(amount))
        target = account or self.account
        side = {"debit": amount} if amount > 0 else {"credit": -amount}
        other = {"credit": amount} if amount > 0 else {"debit": -amount}
        entry = ledger_services.journal_entry_create(
            company=self.company,
            entry_date=on,
            actor=actor,
            lines=[
                ledger_services.LineInput(target, reconciliation_ref=ref, description=description, **side),
                ledger_services.LineInput(self.counter, **other),
            ],
        )
        return entry.lines.get(line_no=1)


def make_books(company, *, permitted="0.00", with_discrepancy=True) -> Books:
    account = AccountFactory(company=company, code="1200", name="Receivables", reconcilable=True)
    counter = AccountFactory(company=company, code="4000", name="Sales", type=Account.Type.REVENUE)
    discrepancy = AccountFactory(company=company, code="8990", name="Balancing discrepancies", type=Account.Type.EXPENSE)
    services.reconciliation_settings_save(
        company=company,
        actor=None,
        permitted_difference=permitted,
        discrepancy_account=discrepancy if with_discrepancy else None,
    )
    return Books(company, account, counter, discrepancy)
