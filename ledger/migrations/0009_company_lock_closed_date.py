"""The posting path's lock-and-read function (``ledger_company_lock_closed_date``): the company
lock and the books-closed date in one round trip. PostgreSQL only; elsewhere the guard reads the
setting with a plain query (SQLite serialises writers itself)."""

from django.db import migrations



class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL on PostgreSQL only; SQLite (``make run``) has no such triggers. Kept in this file, like
    the SQL, so the migration stays as it was whatever the code does later."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


COMPANY_LOCK_CLOSED_DATE = """
CREATE OR REPLACE FUNCTION ledger_company_lock_closed_date(
  p_company bigint, p_entity bigint,
  OUT enabled boolean, OUT closed_date date, OUT restrict_inbound boolean, OUT entity_closed_date date
) LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM 1 FROM ledger_company WHERE id = p_company FOR SHARE;
  SELECT s.enabled, s.closed_date, s.restrict_inbound INTO enabled, closed_date, restrict_inbound
    FROM ledger_booksclosedsetting s WHERE s.company_id = p_company AND s.entity_id IS NULL;
  IF p_entity IS NOT NULL THEN
    SELECT e.closed_date INTO entity_closed_date
      FROM ledger_booksclosedsetting e WHERE e.company_id = p_company AND e.entity_id = p_entity;
  END IF;
END
$fn$;
"""

DROP_COMPANY_LOCK_CLOSED_DATE = """DROP FUNCTION IF EXISTS ledger_company_lock_closed_date(bigint, bigint);"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_line_company_date_entry")]

    operations = [
        RunSQLOnPostgreSQL([COMPANY_LOCK_CLOSED_DATE], [DROP_COMPANY_LOCK_CLOSED_DATE]),
    ]
