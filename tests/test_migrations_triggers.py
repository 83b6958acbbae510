"""Issue 16 item 2: triggers frozen in their migrations.

* Every PostgreSQL function and trigger the database holds is the one the latest migration that
  touches it installs: ``pg_proc.prosrc`` against the SQL text the migrations carry. A trigger
  changed in code without a migration, or a migration edited after it ran, shows up here.
* A database holding data at the first migration upgrades to the latest: the triggers are the
  latest ones, and the summary tables are backfilled from the lines that were already there
  (django-test-migrations' ``migrator``).

The live code keeps no copy of the trigger SQL: the migrations are the only text.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.special import RunSQL

CREATE_FUNCTION = re.compile(r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(.*?\$fn\$(.*?)\$fn\$", re.S | re.I)
DROP_FUNCTION = re.compile(r"DROP\s+FUNCTION\s+IF\s+EXISTS\s+(\w+)", re.I)
CREATE_TRIGGER = re.compile(r"CREATE\s+TRIGGER\s+(\w+)", re.I)
DROP_TRIGGER = re.compile(r"DROP\s+TRIGGER\s+IF\s+EXISTS\s+(\w+)", re.I)


def _sql_of(operation) -> str:
    sql = operation.sql
    return "\n".join(part if isinstance(part, str) else part[0] for part in sql) if isinstance(sql, list | tuple) else sql


def installed_by_migrations() -> tuple[dict[str, str], set[str]]:
    """(function name -> body, trigger names) as the migrations leave them, applied in order."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan: list = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in plan:
                plan.append(node)
    functions: dict[str, str] = {}
    triggers: set[str] = set()
    for node in plan:
        for operation in loader.graph.nodes[node].operations:
            if not isinstance(operation, RunSQL):
                continue
            sql = _sql_of(operation)
            # statements in the order written: drops before creates within one migration are rare,
            # but a later create of the same name always wins
            for name in DROP_FUNCTION.findall(sql):
                functions.pop(name, None)
            for name in DROP_TRIGGER.findall(sql):
                triggers.discard(name)
            functions.update({name: body for name, body in CREATE_FUNCTION.findall(sql)})
            triggers.update(CREATE_TRIGGER.findall(sql))
    return functions, triggers


def installed_in_database() -> tuple[dict[str, str], set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.proname, p.prosrc FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE n.nspname = current_schema() AND l.lanname = 'plpgsql'
            """
        )
        functions = dict(cursor.fetchall())
        cursor.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
        )
        triggers = {row[0] for row in cursor.fetchall()}
    return functions, triggers


def test_installed_function_bodies_are_what_the_latest_migrations_install_issue16_2(db):
    expected_functions, expected_triggers = installed_by_migrations()
    functions, triggers = installed_in_database()
    assert len(expected_functions) >= 20 and "ledger_document_books_closed_insert" in expected_functions
    assert set(functions) == set(expected_functions)
    different = sorted(name for name in functions if functions[name] != expected_functions[name])
    assert different == []
    assert triggers == expected_triggers


def test_the_bc6_document_condition_comes_from_its_own_migration_issue16_2():
    """The condition that shipped without a migration is installed by one now: the first trigger
    migration carries the text it installed then, the later one the policy marker's check."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    first = "\n".join(_sql_of(op) for op in loader.get_migration("ledger", "0003_books_closed_triggers").operations)
    later = "\n".join(
        _sql_of(op) for op in loader.get_migration("ledger", "0012_document_trigger_names_its_provider").operations[:1]
    )
    assert "split_part" not in first and "split_part(r.closed_period_policy, ':', 1) = r.origin" in later


# ---------------------------------------------------------------- upgrade from the first migration


@pytest.mark.django_db(transaction=True)
def test_a_database_with_data_upgrades_from_the_first_migration_to_the_latest_issue16_2(migrator):
    old = migrator.apply_initial_migration([("ledger", "0001_initial")])
    Company = old.apps.get_model("ledger", "Company")
    Account = old.apps.get_model("ledger", "Account")
    JournalEntry = old.apps.get_model("ledger", "JournalEntry")
    JournalLine = old.apps.get_model("ledger", "JournalLine")
    company = Company.objects.create(name="Old books", slug="old-books")
    cash = Account.objects.create(company=company, code="1000", name="Cash", type="asset")
    sales = Account.objects.create(company=company, code="4000", name="Sales", type="revenue")
    day = date(2026, 1, 10)
    for n, credit in enumerate([Decimal("100.00"), Decimal("50.00"), Decimal("9.99")]):
        entry = JournalEntry.objects.create(company=company, entry_date=day + timedelta(days=n), source="import")
        JournalLine.objects.create(
            entry=entry, company=company, entry_date=entry.entry_date, line_no=1, account=cash, debit=[100, 50, 10][n],
            currency="USD",
        )
        JournalLine.objects.create(
            entry=entry, company=company, entry_date=entry.entry_date, line_no=2, account=sales, credit=credit, currency="USD"
        )
    unbalanced = entry.pk  # 10.00 against 9.99

    loader = MigrationLoader(None, ignore_no_migrations=True)
    new = migrator.apply_tested_migration(sorted(loader.graph.leaf_nodes()))

    # the triggers are the latest migrations' ones
    expected_functions, expected_triggers = installed_by_migrations()
    functions, triggers = installed_in_database()
    assert functions == expected_functions and triggers == expected_triggers

    # the summaries were backfilled from the lines that were there before
    AccountDayBalance = new.apps.get_model("ledger", "AccountDayBalance")
    EntryImbalance = new.apps.get_model("ledger", "EntryImbalance")
    EntryDayCount = new.apps.get_model("ledger", "EntryDayCount")
    NewEntry = new.apps.get_model("ledger", "JournalEntry")
    assert sorted(AccountDayBalance.objects.filter(account_id=cash.pk).values_list("entry_date", "debit")) == [
        (day, Decimal("100.00")),
        (day + timedelta(days=1), Decimal("50.00")),
        (day + timedelta(days=2), Decimal("10.00")),
    ]
    assert list(EntryImbalance.objects.values_list("entry_id", "imbalance")) == [(unbalanced, Decimal("0.01"))]
    assert EntryDayCount.objects.filter(company_id=company.pk).count() == 3
    assert list(NewEntry.objects.filter(is_balanced=False).values_list("pk", flat=True)) == [unbalanced]

    # and the books-closed trigger holds on the upgraded database
    Setting = new.apps.get_model("ledger", "BooksClosedSetting")
    Setting.objects.create(company_id=company.pk, enabled=True, closed_date=day + timedelta(days=5))
    with pytest.raises(IntegrityError, match="books closed"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_journalline SET debit = debit + 1 WHERE entry_id = %s AND line_no = 1", [unbalanced])
