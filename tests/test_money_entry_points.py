"""Issue 16 item 3: one money parser. Each bad way of writing an amount is fed to every entry
point that reads amounts (the parser itself, a form, a list filter, the admin, the import
command, and each provider's answer parsing) and each refuses it with the parser's own message,
writing nothing."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.fakes import FakeNetSuite, FakeQuickBooksOnline, FakeSageIntacct, FakeXero
from integrations.models import InboundRecord
from integrations.providers.base import UnexpectedResponse
from ledger.filters import JournalEntryFilter
from ledger.forms import JournalLineForm
from ledger.models import Account, AuditEvent, JournalEntry, Role
from ledger.money import FORMATS, MoneyError, money_parse
from reconciliation.models import ReconciliationSettings
from tests.factories import AccountFactory, MembershipFactory, UserFactory
from tests.integrations.factories import connect_to_fake
from tests.integrations.intacct import connect_intacct

pytestmark = pytest.mark.django_db

# (what is typed or sent, a phrase of the parser's message)
BAD = [
    ("1e5", "uses an exponent"),
    ("2.5E-1", "uses an exponent"),
    ("1_000", "contains an underscore"),
    ("١٢٣", "digits other than 0-9"),  # Arabic-Indic
    ("１２", "digits other than 0-9"),  # full-width
    ("NaN", "is not a number (NaN)"),
    ("Infinity", "is infinite"),
    ("-inf", "is infinite"),
    ("12.345", "more than two decimal places"),
]
IDS = [value for value, _ in BAD]


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_the_parser_refuses_each_bad_form_with_its_own_message(value, phrase):
    with pytest.raises(MoneyError, match=re.escape(phrase)):
        money_parse(value)


def test_the_parser_reads_plain_notation_in_the_company_format():
    assert money_parse("1,234.56", fmt=FORMATS["1,234.56"]) == Decimal("1234.56")
    assert money_parse("1.234,56", fmt=FORMATS["1.234,56"]) == Decimal("1234.56")
    assert money_parse("-0.50") == Decimal("-0.50")
    with pytest.raises(MoneyError, match="JPY amounts have none"):
        money_parse("1.5", currency="JPY")


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_a_form_refuses_each_bad_form(company, value, phrase):
    cash = AccountFactory(company=company, code="1000")
    form = JournalLineForm(data={"account": cash.pk, "debit": value, "credit": ""}, company=company)
    assert not form.is_valid() and phrase in " ".join(form.errors["debit"])


def test_a_form_reads_the_company_format(company):
    company.amount_format = "1.234,56"
    company.save(update_fields=["amount_format"])
    cash = AccountFactory(company=company, code="1000")
    form = JournalLineForm(data={"account": cash.pk, "debit": "1.234,50", "credit": ""}, company=company)
    assert form.is_valid() and form.cleaned_data["debit"] == Decimal("1234.50")


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_a_list_filter_refuses_each_bad_form(company, value, phrase):
    filters = JournalEntryFilter(data={"amount_min": value}, queryset=JournalEntry.objects.none(), company=company)
    assert not filters.is_valid() and phrase in " ".join(filters.errors["amount_min"])


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_the_admin_refuses_each_bad_form_and_saves_nothing(client, company, value, phrase):
    staff = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=staff, role=Role.MANAGER)
    client.force_login(staff)
    response = client.post(
        reverse("admin:reconciliation_reconciliationsettings_add"),
        {"company": company.pk, "permitted_difference": value, "discrepancy_account": ""},
    )
    assert response.status_code == 200 and phrase in response.content.decode()
    assert not ReconciliationSettings.objects.exists()


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_the_import_command_refuses_each_bad_form_and_imports_nothing(company, tmp_path, value, phrase):
    AccountFactory(company=company, code="1000")
    AccountFactory(company=company, code="4000")
    path = tmp_path / "journal.csv"
    path.write_text(
        f'entry,date,account,debit,credit\nA,2026-03-02,1000,"{value}",\nA,2026-03-02,4000,,10.00\n', encoding="utf-8"
    )
    with pytest.raises(CommandError, match=f"row 2, debit: .*{re.escape(phrase)}"):
        call_command("import_journal", str(path), company=company.slug)
    assert not JournalEntry.objects.exists() and not AuditEvent.objects.filter(action="journal_entry.create").exists()


def test_the_import_command_posts_a_good_file_through_the_posting_service(company, tmp_path):
    AccountFactory(company=company, code="1000")
    AccountFactory(company=company, code="4000")
    path = tmp_path / "journal.csv"
    path.write_text(
        "entry,date,account,debit,credit,memo\nA,2026-03-02,1000,\"1,250.00\",,rent\nA,2026-03-02,4000,,\"1,250.00\",rent\n"
        "B,2026-03-03,1000,5.00,,\nB,2026-03-03,4000,,4.99,\n",
        encoding="utf-8",
    )
    call_command("import_journal", str(path), company=company.slug)
    entries = JournalEntry.objects.filter(company=company, source="import").order_by("entry_date")
    assert [(e.memo, e.is_balanced) for e in entries] == [("rent", True), ("", False)]
    assert AuditEvent.objects.filter(action="journal_entry.create").count() == 2


# ---------------------------------------------------------------- each provider's answer parsing


def _pull_fails_with(provider, phrase):
    """The vendor's bad amount is refused by the parser: either the whole answer (a pull that
    cannot be read at all) or, where the provider reads transaction by transaction (issue 22),
    that one transaction, refused with the parser's message and never posted."""
    try:
        found = provider.pull_inbound(since=None)
    except UnexpectedResponse as exc:
        assert phrase in exc.message
        return
    refused = [txn for txn in found if txn.problem]
    assert refused, "the bad amount was read as a number"
    assert all(phrase in txn.problem and not txn.lines for txn in refused)


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_quickbooks_online_answers_are_read_by_the_parser(company, value, phrase):
    from integrations.services import provider_for

    with FakeQuickBooksOnline() as fake:
        conn = connect_to_fake(company, fake)
        row = fake.add_bill(number="B-1", txn_date=date(2026, 3, 3), vendor="AWS", lines=[("5010", Decimal("120.50"))])
        row["TotalAmt"] = value
        _pull_fails_with(provider_for(conn), phrase)


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_xero_answers_are_read_by_the_parser(company, value, phrase):
    from integrations.services import provider_for

    with FakeXero() as fake:
        conn = connect_to_fake(company, fake)
        row = fake.add_invoice(
            kind="ACCPAY", number="B-1", txn_date=date(2026, 3, 3), contact="AWS", lines=[("400", Decimal("5"))]
        )
        row["Total"] = value
        _pull_fails_with(provider_for(conn), phrase)


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_netsuite_answers_are_read_by_the_parser(company, value, phrase):
    from integrations.services import provider_for

    with FakeNetSuite() as fake:
        conn = connect_to_fake(company, fake)
        fake.add_transaction(type="Journal", when=date(2026, 3, 3), lines=[("6100", value, ""), ("1000", "", "9.00")])
        _pull_fails_with(provider_for(conn), phrase)


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_sage_intacct_answers_are_read_by_the_parser(company, value, phrase):
    from integrations.services import provider_for

    with FakeSageIntacct() as fake:
        conn = connect_intacct(company, fake)
        fake.add_batch(when=date(2026, 3, 3), lines=[("6100", "debit", value, "100"), ("1000", "credit", "9.00", "100")])
        _pull_fails_with(provider_for(conn), phrase)


@pytest.mark.parametrize(("value", "phrase"), BAD, ids=IDS)
def test_quickbooks_desktop_answers_are_read_by_the_parser(company, client, value, phrase):
    from integrations import qbd, selectors, services
    from integrations.fakes.qbd import FakeQuickBooksDesktop
    from tests.integrations.test_qbd import soap_transport

    conn, password = qbd.connection_connect_qbd(company=company, actor=None)
    wc = FakeQuickBooksDesktop(soap_transport(client), username=conn.tenant_id, password=password)
    for row in wc.chart:
        Account.objects.get_or_create(company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]})
    services.accounts_pull(connection=conn, actor=None)
    wc.poll()
    rows = selectors.mapping_rows(conn)
    services.mappings_save(connection=conn, choices={r.account.pk: r.suggestion.pk for r in rows if r.suggestion}, actor=None)
    wc.add_journal(when=date(2026, 2, 10), lines=[("6100", "debit", value), ("1000", "credit", "12.50")], ref="QB-1")
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    # Refused on its own (issue 22): the run carries on, the transaction is rejected with the
    # parser's message, and nothing of it reaches the books.
    record = InboundRecord.objects.get(connection=conn)
    assert record.state == InboundRecord.State.REJECTED and phrase in record.reason
    assert record.entry_id is None and not JournalEntry.objects.filter(company=company).exists()
    assert run.issues.filter(code="inbound_rejected").exists()


def test_a_refusal_never_quotes_a_control_character():
    """A NUL from a vendor ends up in a run's error: PostgreSQL text cannot hold it."""
    with pytest.raises(MoneyError) as refused:
        money_parse("12\x00")
    assert "\x00" not in refused.value.message and "\\x00" in refused.value.message
