"""The journal's summaries kept by the PostgreSQL statement triggers (migration ``ledger/0006_line_summaries``):
entry imbalances (what "unbalanced" means, PC2), account-day balances (the trial balance) and
entries per day (the Review step's count).

Whatever writes the lines or entries (the posting service, ``Model.objects.create``,
``bulk_create``, ``QuerySet.update``/``delete``, raw SQL, the COPY loader, TRUNCATE), the
summaries must equal what the rows themselves add up to, and each entry's stored
``is_balanced`` flag must say whether it has an imbalance."""

import importlib
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ledger import services
from ledger.models import AccountDayBalance, EntryDayCount, EntryImbalance, JournalEntry, JournalLine
from ledger.services import EntryInput, LineInput
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def lines_add_up_to():
    """(imbalances, day balances, entries per day) computed from the lines and entries, as the
    summaries must hold them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT entry_id, currency, SUM(debit - credit) FROM ledger_journalline"
            " GROUP BY entry_id, currency HAVING SUM(debit - credit) <> 0"
        )
        imbalances = {(e, c): v for e, c, v in cursor.fetchall()}
        cursor.execute(
            "SELECT company_id, account_id, entry_date, SUM(debit), SUM(credit), COUNT(*) FROM ledger_journalline"
            " GROUP BY company_id, account_id, entry_date"
        )
        days = {(c, a, d): (dr, cr, n) for c, a, d, dr, cr, n in cursor.fetchall()}
        cursor.execute("SELECT company_id, entry_date, COUNT(*) FROM ledger_journalentry GROUP BY company_id, entry_date")
        entry_days = {(c, d): n for c, d, n in cursor.fetchall()}
    return imbalances, days, entry_days


def assert_summaries_right():
    imbalances, days, entry_days = lines_add_up_to()
    assert {(r.company_id, r.entry_date): r.entries for r in EntryDayCount.objects.all()} == entry_days
    assert {(r.entry_id, r.currency): r.imbalance for r in EntryImbalance.objects.all()} == imbalances
    assert {
        (r.company_id, r.account_id, r.entry_date): (r.debit, r.credit, r.line_count) for r in AccountDayBalance.objects.all()
    } == days
    flagged = set(JournalEntry.objects.filter(is_balanced=False).values_list("pk", flat=True))
    assert flagged == {entry_id for entry_id, _ in imbalances}


@pytest.fixture
def books(company):
    cash = AccountFactory(company=company, code="1000")
    sales = AccountFactory(company=company, code="4000")
    fees = AccountFactory(company=company, code="6700")

    def post(amount="100.00", credit=None, source="manual", day=DAY, debit_account=cash, credit_account=sales):
        return services.journal_entry_create(
            company=company,
            entry_date=day,
            actor=None,
            source=source,
            lines=[
                services.LineInput(debit_account, debit=amount),
                services.LineInput(credit_account, credit=credit or amount),
            ],
        )

    return {"company": company, "accounts": [cash, sales, fees], "post": post}


def line(entry, account, debit="0.00", credit="0.00", currency="USD", line_no=9):
    return JournalLine(
        entry=entry,
        company_id=entry.company_id,
        entry_date=entry.entry_date,
        account=account,
        debit=Decimal(debit),
        credit=Decimal(credit),
        currency=currency,
        line_no=line_no,
    )


def test_the_posting_service_keeps_summaries_and_flags_an_unbalanced_import_PC2(books):
    balanced = books["post"]()
    unbalanced = books["post"]("10.00", credit="9.99", source="import")
    assert_summaries_right()
    assert list(EntryImbalance.objects.values_list("entry_id", "currency", "imbalance")) == [
        (unbalanced.pk, "USD", Decimal("0.01"))
    ]
    cash = books["accounts"][0]
    assert AccountDayBalance.objects.get(account=cash, entry_date=DAY).debit == Decimal("110.00")
    # a person fixes the import: it balances now, the imbalance row goes and the flag clears
    services.journal_entry_update(
        entry=unbalanced,
        entry_date=DAY + timedelta(days=1),
        actor=None,
        lines=[services.LineInput(cash, debit="10.00"), services.LineInput(books["accounts"][1], credit="10.00")],
    )
    assert_summaries_right()
    assert not EntryImbalance.objects.exists()
    services.journal_entry_delete(entry=balanced, actor=None)
    assert_summaries_right()
    assert AccountDayBalance.objects.get(account=cash).entry_date == DAY + timedelta(days=1)


def test_an_orm_created_line_unbalances_its_entry_and_its_deletion_balances_it_again_PC2(books):
    entry = books["post"]()
    extra = JournalLine.objects.create(
        **{
            f.attname: getattr(line(entry, books["accounts"][2], debit="1.00"), f.attname)
            for f in JournalLine._meta.concrete_fields
            if f.attname != "id"
        }
    )
    assert_summaries_right()
    entry.refresh_from_db()
    assert entry.is_balanced is False
    extra.delete()
    assert_summaries_right()
    entry.refresh_from_db()
    assert entry.is_balanced is True


def test_bulk_create_per_currency_imbalances(books):
    entry = books["post"]()
    cash, sales, fees = books["accounts"]
    JournalLine.objects.bulk_create(
        [line(entry, cash, debit="5.00", currency="EUR"), line(entry, fees, credit="3.00", currency="EUR", line_no=10)]
        + [line(entry, fees, credit="2.00", currency="GBP", line_no=11), line(entry, cash, debit="2.00", currency="GBP")]
    )
    assert_summaries_right()
    assert set(EntryImbalance.objects.values_list("currency", "imbalance")) == {("EUR", Decimal("2.00"))}


def test_queryset_update_moves_amounts_accounts_days_currencies_and_entries(books):
    first, second = books["post"](), books["post"]("40.00")
    cash, sales, fees = books["accounts"]
    lines = JournalLine.objects.filter(entry=first)
    lines.filter(debit__gt=0).update(debit=Decimal("120.00"))
    assert_summaries_right()
    lines.filter(credit__gt=0).update(account=fees, entry_date=DAY + timedelta(days=3))
    assert_summaries_right()
    lines.filter(credit__gt=0).update(currency="EUR", credit=Decimal("120.00"))
    assert_summaries_right()
    assert EntryImbalance.objects.filter(entry=first).count() == 2
    # a line moved to another entry: both entries' imbalances move
    JournalLine.objects.filter(entry=second, debit__gt=0).update(entry=first)
    assert_summaries_right()
    # a no-op update of every line leaves everything as it was
    JournalLine.objects.update(description="touched")
    assert_summaries_right()
    JournalLine.objects.filter(entry=first).delete()
    assert_summaries_right()
    assert not AccountDayBalance.objects.filter(entry_date=DAY + timedelta(days=3)).exists()


def test_raw_sql_writes_are_summarised_too(books):
    entry = books["post"]()
    cash = books["accounts"][0]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalline (entry_id, company_id, entry_date, line_no, account_id, description, debit, credit,"
            " currency, reconciliation_ref) VALUES (%s, %s, %s, 3, %s, '', 7.50, 0, 'USD', '')",
            [entry.pk, entry.company_id, DAY, cash.pk],
        )
        assert_summaries_right()
        cursor.execute("UPDATE ledger_journalline SET debit = debit + 1 WHERE entry_id = %s AND debit > 0", [entry.pk])
        assert_summaries_right()
        assert EntryImbalance.objects.get(entry=entry).imbalance == Decimal("9.50")
        cursor.execute("DELETE FROM ledger_journalline WHERE entry_id = %s AND line_no = 3", [entry.pk])
        cursor.execute("UPDATE ledger_journalline SET debit = debit - 1 WHERE entry_id = %s AND debit > 0", [entry.pk])
        assert_summaries_right()
        assert not EntryImbalance.objects.exists()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while deferred FK checks are pending
        cursor.execute("TRUNCATE ledger_journalline CASCADE")
    assert not EntryImbalance.objects.exists() and not AccountDayBalance.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ledger_journalentry CASCADE")
    assert not EntryDayCount.objects.exists()


def test_the_copy_loader_writes_imbalances_only_for_unbalanced_entries(books):
    cash, sales, _ = books["accounts"]
    entries = [
        EntryInput(entry_date=DAY, lines=[LineInput(cash.pk, debit=Decimal(n)), LineInput(sales.pk, credit=Decimal(n))])
        for n in range(1, 200)
    ]
    entries.append(
        EntryInput(
            entry_date=DAY, lines=[LineInput(cash.pk, debit=Decimal("10.00")), LineInput(sales.pk, credit=Decimal("9.99"))]
        )
    )
    posted = services.journal_entries_post(company=books["company"], entries=entries, actor=None, source="import").posted
    assert_summaries_right()
    assert list(EntryImbalance.objects.values_list("entry_id", flat=True)) == [posted[199].entry_id]
    assert AccountDayBalance.objects.get(account=cash).line_count == 200


def test_entries_per_day_follow_every_write_of_the_entries(books, other_company):
    first, second = books["post"](), books["post"]()
    assert_summaries_right()
    JournalEntry.objects.filter(pk=first.pk).update(entry_date=DAY + timedelta(days=1))
    assert_summaries_right()
    JournalEntry.objects.bulk_create(
        [JournalEntry(company=other_company, entry_date=DAY), JournalEntry(company=books["company"], entry_date=DAY)]
    )
    assert_summaries_right()
    assert EntryDayCount.objects.get(company=books["company"], entry_date=DAY).entries == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_journalentry SET company_id = %s WHERE company_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM ledger_journalline l WHERE l.entry_id = ledger_journalentry.id)",
            [other_company.pk, books["company"].pk],
        )
        assert_summaries_right()
        cursor.execute("DELETE FROM ledger_journalentry WHERE company_id = %s", [other_company.pk])
    assert_summaries_right()
    services.journal_entry_delete(entry=second, actor=None)
    assert_summaries_right()
    assert list(EntryDayCount.objects.values_list("entry_date", "entries")) == [(DAY + timedelta(days=1), 1)]


def test_the_backfill_rebuilds_summaries_from_the_lines(books):
    books["post"]("10.00", credit="9.00", source="import")
    books["post"]()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_entryimbalance")
        cursor.execute("UPDATE ledger_accountdaybalance SET debit = 0")
        cursor.execute("UPDATE ledger_entrydaycount SET entries = 7")
        # the backfill exactly as the migration carries it
        cursor.execute(importlib.import_module("ledger.migrations.0006_line_summaries").BACKFILL_SUMMARIES)
    assert_summaries_right()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_sequence_of_line_writes_keeps_the_summaries_right(books, seed):
    """A seeded random walk over every way of writing lines; the summaries are checked after each step."""
    rng = random.Random(seed)
    accounts = books["accounts"]
    entries = [books["post"](f"{n}.00") for n in range(1, 5)]

    def amount():
        return Decimal(rng.randrange(1, 5000)).scaleb(-2)

    def a_line():
        return JournalLine.objects.filter(entry__in=entries).order_by("?").first()

    def create():
        entry = rng.choice(entries)
        side = {"debit": amount()} if rng.random() < 0.5 else {"credit": amount()}
        JournalLine.objects.bulk_create(
            [line(entry, rng.choice(accounts), currency=rng.choice(["USD", "EUR"]), **{k: str(v) for k, v in side.items()})]
            * rng.randrange(1, 3)
        )

    def update():
        target = a_line()
        if target is None:
            return
        change = rng.choice(["amount", "account", "day", "currency", "entry"])
        rows = JournalLine.objects.filter(pk=target.pk)
        if change == "amount":
            rows.update(**({"debit": amount(), "credit": 0} if target.debit else {"credit": amount(), "debit": 0}))
        elif change == "account":
            rows.update(account=rng.choice(accounts))
        elif change == "day":
            rows.update(entry_date=DAY + timedelta(days=rng.randrange(3)))
        elif change == "currency":
            rows.update(currency=rng.choice(["USD", "EUR"]))
        else:
            rows.update(entry=rng.choice(entries))

    def delete():
        target = a_line()
        if target is not None:
            JournalLine.objects.filter(pk=target.pk).delete()

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ledger_journalline SET credit = credit + 0.01 WHERE credit > 0 AND entry_id = %s",
                [rng.choice(entries).pk],
            )

    for _ in range(40):
        rng.choice([create, update, delete, raw])()
        assert_summaries_right()


def test_reflag_puts_back_a_stored_flag_written_directly_PC2(books):
    unbalanced = books["post"]("10.00", credit="9.00", source="import")
    balanced = books["post"]()
    JournalEntry.objects.filter(pk=unbalanced.pk).update(is_balanced=True)
    JournalEntry.objects.filter(pk=balanced.pk).update(is_balanced=False)
    assert services.journal_entries_reflag(company=books["company"]) == 1
    assert_summaries_right()
