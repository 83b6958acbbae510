"""PostgreSQL triggers: the books-closed guard's mirror (BC4–BC6) and the append-only audit trail (PC6).

SQLite (the ``make run`` default) has no statement-level triggers with transition tables; there the
Python guard in the services still holds, so this migration does nothing on other databases."""

from django.db import migrations

from ledger.sql import AUDIT_APPEND_ONLY, BOOKS_CLOSED_TRIGGERS, DROP_AUDIT_APPEND_ONLY, DROP_BOOKS_CLOSED_TRIGGERS


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_books_closed_and_documents")]

    operations = [
        migrations.RunPython(_on_postgresql(BOOKS_CLOSED_TRIGGERS), _on_postgresql(DROP_BOOKS_CLOSED_TRIGGERS)),
        migrations.RunPython(_on_postgresql(AUDIT_APPEND_ONLY), _on_postgresql(DROP_AUDIT_APPEND_ONLY)),
    ]
