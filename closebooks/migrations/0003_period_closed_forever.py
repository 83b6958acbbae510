"""PostgreSQL: a closed period can never be reopened, not even by raw SQL (PC5).
SQLite (the ``make run`` default) has only the service's rule."""

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


PERIOD_CLOSED_FOREVER = """
CREATE OR REPLACE FUNCTION closebooks_period_closed_forever() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'closed period % of company % cannot be deleted (PC5)', OLD.month, OLD.company_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.state <> 'closed' OR NEW.month <> OLD.month OR NEW.company_id <> OLD.company_id THEN
    RAISE EXCEPTION 'closed period % of company % can never be reopened (PC5)', OLD.month, OLD.company_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER closebooks_period_closed_forever
  BEFORE UPDATE OR DELETE ON closebooks_period
  FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION closebooks_period_closed_forever();
"""

DROP_PERIOD_CLOSED_FOREVER = """
DROP TRIGGER IF EXISTS closebooks_period_closed_forever ON closebooks_period;
DROP FUNCTION IF EXISTS closebooks_period_closed_forever();
"""


class Migration(migrations.Migration):
    dependencies = [("closebooks", "0002_period_date_before_lock")]

    operations = [RunSQLOnPostgreSQL([PERIOD_CLOSED_FOREVER], [DROP_PERIOD_CLOSED_FOREVER])]
