"""The posting path's lock-and-read function (``ledger.sql.COMPANY_LOCK_CLOSED_DATE``): the company
lock and the books-closed date in one round trip. PostgreSQL only; elsewhere the guard reads the
setting with a plain query (SQLite serialises writers itself)."""

from django.db import migrations

from ledger.sql import COMPANY_LOCK_CLOSED_DATE, DROP_COMPANY_LOCK_CLOSED_DATE


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_line_company_date_entry")]

    operations = [
        migrations.RunPython(_on_postgresql(COMPANY_LOCK_CLOSED_DATE), _on_postgresql(DROP_COMPANY_LOCK_CLOSED_DATE)),
    ]
