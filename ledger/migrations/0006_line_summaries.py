"""The journal's summaries (entry imbalances, account-day balances, entries per day), their
statement-level triggers and a backfill of the lines already there. PostgreSQL only: on SQLite
the tables stay empty and the selectors compute from the lines. The SQL is the text this migration
installs; a change to a trigger is a new migration."""

import django.db.models.deletion
from django.db import migrations, models



class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL on PostgreSQL only; SQLite (``make run``) has no such triggers. Kept in this file, like
    the SQL, so the migration stays as it was whatever the code does later."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


SUMMARY_TRIGGERS = """
CREATE OR REPLACE FUNCTION ledger_journalline_summaries_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  touched bigint[];
  emptied bigint[];
BEGIN
  -- Imbalance per entry and currency (PC2): only keys whose net moved.
  WITH up AS (
    INSERT INTO ledger_entryimbalance AS t (entry_id, currency, imbalance)
    SELECT entry_id, currency, SUM(debit - credit)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, debit, credit, 1 AS n FROM new_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY entry_id, currency
    HAVING SUM(debit - credit) <> 0
     ORDER BY entry_id, currency
    ON CONFLICT (entry_id, currency) DO UPDATE SET imbalance = t.imbalance + EXCLUDED.imbalance
    RETURNING t.id, t.entry_id, t.imbalance
  )
  SELECT array_agg(DISTINCT entry_id), array_agg(id) FILTER (WHERE imbalance = 0) INTO touched, emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entryimbalance WHERE id = ANY (emptied);
  END IF;
  IF touched IS NOT NULL THEN
    UPDATE ledger_journalentry e
       SET is_balanced = NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id)
     WHERE e.id = ANY (touched)
       AND e.is_balanced IS DISTINCT FROM NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id);
  END IF;

  -- Debits, credits and lines per company, account and day (the trial balance).
  WITH up AS (
    INSERT INTO ledger_accountdaybalance AS t (company_id, account_id, entry_date, debit, credit, line_count)
    SELECT company_id, account_id, entry_date, SUM(debit), SUM(credit), SUM(n)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, debit, credit, 1 AS n FROM new_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY company_id, account_id, entry_date
    HAVING SUM(debit) <> 0 OR SUM(credit) <> 0 OR SUM(n) <> 0
     ORDER BY company_id, account_id, entry_date
    ON CONFLICT (company_id, account_id, entry_date) DO UPDATE
       SET debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
           line_count = t.line_count + EXCLUDED.line_count
    RETURNING t.id, t.line_count
  )
  SELECT array_agg(id) FILTER (WHERE line_count = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_accountdaybalance WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_summaries_insert
  AFTER INSERT ON ledger_journalline REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_insert();

CREATE OR REPLACE FUNCTION ledger_journalline_summaries_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  touched bigint[];
  emptied bigint[];
BEGIN
  -- Imbalance per entry and currency (PC2): only keys whose net moved.
  WITH up AS (
    INSERT INTO ledger_entryimbalance AS t (entry_id, currency, imbalance)
    SELECT entry_id, currency, SUM(debit - credit)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, debit, credit, 1 AS n FROM new_rows UNION ALL SELECT entry_id, company_id, account_id, entry_date, currency, -debit, -credit, -1 AS n FROM old_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY entry_id, currency
    HAVING SUM(debit - credit) <> 0
     ORDER BY entry_id, currency
    ON CONFLICT (entry_id, currency) DO UPDATE SET imbalance = t.imbalance + EXCLUDED.imbalance
    RETURNING t.id, t.entry_id, t.imbalance
  )
  SELECT array_agg(DISTINCT entry_id), array_agg(id) FILTER (WHERE imbalance = 0) INTO touched, emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entryimbalance WHERE id = ANY (emptied);
  END IF;
  IF touched IS NOT NULL THEN
    UPDATE ledger_journalentry e
       SET is_balanced = NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id)
     WHERE e.id = ANY (touched)
       AND e.is_balanced IS DISTINCT FROM NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id);
  END IF;

  -- Debits, credits and lines per company, account and day (the trial balance).
  WITH up AS (
    INSERT INTO ledger_accountdaybalance AS t (company_id, account_id, entry_date, debit, credit, line_count)
    SELECT company_id, account_id, entry_date, SUM(debit), SUM(credit), SUM(n)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, debit, credit, 1 AS n FROM new_rows UNION ALL SELECT entry_id, company_id, account_id, entry_date, currency, -debit, -credit, -1 AS n FROM old_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY company_id, account_id, entry_date
    HAVING SUM(debit) <> 0 OR SUM(credit) <> 0 OR SUM(n) <> 0
     ORDER BY company_id, account_id, entry_date
    ON CONFLICT (company_id, account_id, entry_date) DO UPDATE
       SET debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
           line_count = t.line_count + EXCLUDED.line_count
    RETURNING t.id, t.line_count
  )
  SELECT array_agg(id) FILTER (WHERE line_count = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_accountdaybalance WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_summaries_update
  AFTER UPDATE ON ledger_journalline REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_update();

CREATE OR REPLACE FUNCTION ledger_journalline_summaries_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  touched bigint[];
  emptied bigint[];
BEGIN
  -- Imbalance per entry and currency (PC2): only keys whose net moved.
  WITH up AS (
    INSERT INTO ledger_entryimbalance AS t (entry_id, currency, imbalance)
    SELECT entry_id, currency, SUM(debit - credit)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, -debit, -credit, -1 AS n FROM old_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY entry_id, currency
    HAVING SUM(debit - credit) <> 0
     ORDER BY entry_id, currency
    ON CONFLICT (entry_id, currency) DO UPDATE SET imbalance = t.imbalance + EXCLUDED.imbalance
    RETURNING t.id, t.entry_id, t.imbalance
  )
  SELECT array_agg(DISTINCT entry_id), array_agg(id) FILTER (WHERE imbalance = 0) INTO touched, emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entryimbalance WHERE id = ANY (emptied);
  END IF;
  IF touched IS NOT NULL THEN
    UPDATE ledger_journalentry e
       SET is_balanced = NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id)
     WHERE e.id = ANY (touched)
       AND e.is_balanced IS DISTINCT FROM NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id);
  END IF;

  -- Debits, credits and lines per company, account and day (the trial balance).
  WITH up AS (
    INSERT INTO ledger_accountdaybalance AS t (company_id, account_id, entry_date, debit, credit, line_count)
    SELECT company_id, account_id, entry_date, SUM(debit), SUM(credit), SUM(n)
      FROM (SELECT entry_id, company_id, account_id, entry_date, currency, -debit, -credit, -1 AS n FROM old_rows) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
     GROUP BY company_id, account_id, entry_date
    HAVING SUM(debit) <> 0 OR SUM(credit) <> 0 OR SUM(n) <> 0
     ORDER BY company_id, account_id, entry_date
    ON CONFLICT (company_id, account_id, entry_date) DO UPDATE
       SET debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
           line_count = t.line_count + EXCLUDED.line_count
    RETURNING t.id, t.line_count
  )
  SELECT array_agg(id) FILTER (WHERE line_count = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_accountdaybalance WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_summaries_delete
  AFTER DELETE ON ledger_journalline REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_delete();
CREATE OR REPLACE FUNCTION ledger_journalline_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM ledger_entryimbalance;
  DELETE FROM ledger_accountdaybalance;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_summaries_truncate
  AFTER TRUNCATE ON ledger_journalline
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_truncate();
CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  emptied bigint[];
BEGIN
  WITH up AS (
    INSERT INTO ledger_entrydaycount AS t (company_id, entry_date, entries)
    SELECT company_id, entry_date, SUM(n) FROM (SELECT company_id, entry_date, 1 AS n FROM new_rows) s(company_id, entry_date, n)
     GROUP BY company_id, entry_date
    HAVING SUM(n) <> 0
     ORDER BY company_id, entry_date
    ON CONFLICT (company_id, entry_date) DO UPDATE SET entries = t.entries + EXCLUDED.entries
    RETURNING t.id, t.entries
  )
  SELECT array_agg(id) FILTER (WHERE entries = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entrydaycount WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalentry_summaries_insert
  AFTER INSERT ON ledger_journalentry REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_insert();

CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  emptied bigint[];
BEGIN
  WITH up AS (
    INSERT INTO ledger_entrydaycount AS t (company_id, entry_date, entries)
    SELECT company_id, entry_date, SUM(n) FROM (SELECT company_id, entry_date, 1 AS n FROM new_rows UNION ALL SELECT company_id, entry_date, -1 AS n FROM old_rows) s(company_id, entry_date, n)
     GROUP BY company_id, entry_date
    HAVING SUM(n) <> 0
     ORDER BY company_id, entry_date
    ON CONFLICT (company_id, entry_date) DO UPDATE SET entries = t.entries + EXCLUDED.entries
    RETURNING t.id, t.entries
  )
  SELECT array_agg(id) FILTER (WHERE entries = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entrydaycount WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalentry_summaries_update
  AFTER UPDATE ON ledger_journalentry REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_update();

CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  emptied bigint[];
BEGIN
  WITH up AS (
    INSERT INTO ledger_entrydaycount AS t (company_id, entry_date, entries)
    SELECT company_id, entry_date, SUM(n) FROM (SELECT company_id, entry_date, -1 AS n FROM old_rows) s(company_id, entry_date, n)
     GROUP BY company_id, entry_date
    HAVING SUM(n) <> 0
     ORDER BY company_id, entry_date
    ON CONFLICT (company_id, entry_date) DO UPDATE SET entries = t.entries + EXCLUDED.entries
    RETURNING t.id, t.entries
  )
  SELECT array_agg(id) FILTER (WHERE entries = 0) INTO emptied FROM up;
  IF emptied IS NOT NULL THEN
    DELETE FROM ledger_entrydaycount WHERE id = ANY (emptied);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalentry_summaries_delete
  AFTER DELETE ON ledger_journalentry REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_delete();
CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM ledger_entrydaycount;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalentry_summaries_truncate
  AFTER TRUNCATE ON ledger_journalentry
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_truncate();"""

DROP_SUMMARY_TRIGGERS = """DROP TRIGGER IF EXISTS ledger_journalline_summaries_insert ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_summaries_insert();
DROP TRIGGER IF EXISTS ledger_journalline_summaries_update ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_summaries_update();
DROP TRIGGER IF EXISTS ledger_journalline_summaries_delete ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_summaries_delete();
DROP TRIGGER IF EXISTS ledger_journalline_summaries_truncate ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_summaries_truncate();
DROP TRIGGER IF EXISTS ledger_journalentry_summaries_insert ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_journalentry_summaries_insert();
DROP TRIGGER IF EXISTS ledger_journalentry_summaries_update ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_journalentry_summaries_update();
DROP TRIGGER IF EXISTS ledger_journalentry_summaries_delete ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_journalentry_summaries_delete();
DROP TRIGGER IF EXISTS ledger_journalentry_summaries_truncate ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_journalentry_summaries_truncate();"""

BACKFILL_SUMMARIES = """
LOCK TABLE ledger_journalentry, ledger_journalline IN SHARE MODE;
DELETE FROM ledger_entryimbalance;
DELETE FROM ledger_accountdaybalance;
DELETE FROM ledger_entrydaycount;
INSERT INTO ledger_entryimbalance (entry_id, currency, imbalance)
SELECT entry_id, currency, SUM(debit - credit) FROM ledger_journalline
 GROUP BY entry_id, currency HAVING SUM(debit - credit) <> 0;
INSERT INTO ledger_accountdaybalance (company_id, account_id, entry_date, debit, credit, line_count)
SELECT company_id, account_id, entry_date, SUM(debit), SUM(credit), COUNT(*) FROM ledger_journalline
 GROUP BY company_id, account_id, entry_date;
INSERT INTO ledger_entrydaycount (company_id, entry_date, entries)
SELECT company_id, entry_date, COUNT(*) FROM ledger_journalentry GROUP BY company_id, entry_date;
UPDATE ledger_journalentry e SET is_balanced = NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id)
 WHERE e.is_balanced IS DISTINCT FROM NOT EXISTS (SELECT 1 FROM ledger_entryimbalance i WHERE i.entry_id = e.id);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0005_line_index_covers_amounts'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountDayBalance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_date', models.DateField()),
                ('debit', models.DecimalField(decimal_places=2, max_digits=24)),
                ('credit', models.DecimalField(decimal_places=2, max_digits=24)),
                ('line_count', models.BigIntegerField()),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.account')),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.company')),
            ],
            options={
                'indexes': [models.Index(fields=['company', 'entry_date'], name='accountdaybalance_company_date')],
                'constraints': [models.UniqueConstraint(fields=('company', 'account', 'entry_date'), name='accountdaybalance_one_per_day')],
            },
        ),
        migrations.CreateModel(
            name='EntryImbalance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('currency', models.CharField(max_length=3)),
                ('imbalance', models.DecimalField(decimal_places=2, max_digits=24)),
                ('entry', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.journalentry')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entry', 'currency'), name='entryimbalance_one_per_currency')],
            },
        ),
        migrations.CreateModel(
            name='EntryDayCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_date', models.DateField()),
                ('entries', models.BigIntegerField()),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.company')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('company', 'entry_date'), name='entrydaycount_one_per_day')],
            },
        ),
        # Triggers first, then the backfill under a SHARE lock: no line written in between is missed.
        RunSQLOnPostgreSQL([SUMMARY_TRIGGERS], [DROP_SUMMARY_TRIGGERS]),
        RunSQLOnPostgreSQL([BACKFILL_SUMMARIES], migrations.RunSQL.noop),
    ]
