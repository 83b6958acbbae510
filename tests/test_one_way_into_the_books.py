"""Issue 16 item 1: no module outside ``ledger`` writes the journal's tables. Every posting goes
through the posting service (``ledger.services.journal_entries_post``); this greps the tree for
the ways around it: raw SQL that inserts, updates, deletes, copies into or truncates
``ledger_journalentry``/``ledger_journalline``, and the ORM's writers on JournalEntry/JournalLine
(``.objects.create/bulk_create/update/delete/...``, building rows with ``JournalEntry(...)``)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every package of the product except the ledger itself (tests write raw SQL on purpose: they
# check that the PostgreSQL triggers hold against writes that bypass the services).
CHECKED = ["closebooks", "integrations", "reconciliation", "loadtest", "scripts", "common"]

TABLES = r"ledger_journal(?:entry|line)\b"
RAW_SQL = re.compile(
    rf"(?is)\b(?:insert\s+into\s+{TABLES}|update\s+{TABLES}|delete\s+from\s+{TABLES}|copy\s+{TABLES}|truncate\s+(?:table\s+)?{TABLES})"
)
MODELS = {"JournalEntry", "JournalLine"}
WRITERS = {"create", "bulk_create", "bulk_update", "update", "delete", "get_or_create", "update_or_create", "_raw_delete"}


def _chain_has_manager(node: ast.AST) -> bool:
    """Whether an attribute/call chain starts at ``JournalEntry.objects`` or ``JournalLine.objects``."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and node.attr == "objects" and isinstance(node.value, ast.Name):
            return node.value.id in MODELS
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def journal_writes(source: str) -> list[str]:
    """What in ``source`` writes the journal's tables, one description per finding."""
    found = [f"raw SQL: {m.group(0)!r}" for m in RAW_SQL.finditer(source)]
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in WRITERS and _chain_has_manager(func.value):
            found.append(f"line {node.lineno}: ORM {func.attr}() on the journal")
        if isinstance(func, ast.Name) and func.id in MODELS:
            found.append(f"line {node.lineno}: builds a {func.id} row")
    return found


def product_modules() -> list[Path]:
    return sorted(
        path
        for package in CHECKED
        if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_module_outside_the_ledger_writes_the_journal_issue16_1():
    offenders = {
        str(path.relative_to(ROOT)): writes for path in product_modules() if (writes := journal_writes(path.read_text()))
    }
    assert offenders == {}, "post through ledger.services.journal_entries_post instead"


def test_the_tree_has_modules_to_check():
    assert len(product_modules()) > 50  # the grep above really read the apps


@pytest.mark.parametrize(
    "snippet",
    [
        'cursor.execute("INSERT INTO ledger_journalline (entry_id) VALUES (1)")',
        'cursor.execute("""\n    delete FROM ledger_journalentry WHERE id = 1""")',
        'cursor.execute(f"UPDATE ledger_journalline SET debit = 0")',
        'copy = raw.copy("COPY ledger_journalentry (id) FROM STDIN")',
        "JournalEntry.objects.create(company=c, entry_date=d)",
        "JournalLine.objects.bulk_create(lines)",
        "JournalEntry.objects.filter(pk=1).update(memo='x')",
        "JournalLine.objects.filter(entry=e).delete()",
        "JournalEntry(company=c, entry_date=d).save()",
    ],
)
def test_the_grep_finds_each_way_around_the_posting_service(snippet):
    assert journal_writes(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "JournalLine.objects.filter(company=c).count()",
        'cursor.execute("SELECT id FROM ledger_journalentry WHERE company_id = %s", [1])',
        "journal_entries_post(company=c, entries=entries, actor=None)",
    ],
)
def test_reading_the_journal_is_not_a_write(snippet):
    assert journal_writes(snippet) == []
