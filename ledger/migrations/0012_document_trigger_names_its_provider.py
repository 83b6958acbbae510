"""The BC6 exception of the document trigger names its provider and kinds (the policy marker is
"provider:kind,kind", ``InboundPolicy.name``): an inbound document enters a closed period under a
provider policy only when the policy is its own provider's and names its kind. The change shipped
in the trigger code without a migration, so databases migrated before it kept the old condition;
this migration installs it everywhere, and its reverse puts the old functions back."""

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


DOCUMENT_TRIGGER_FUNCTIONS = """
CREATE OR REPLACE FUNCTION ledger_document_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND (NOT c.restrict_inbound OR (r.closed_period_policy <> '' AND split_part(r.closed_period_policy, ':', 1) = r.origin AND r.kind = ANY (string_to_array(split_part(r.closed_period_policy, ':', 2), ',')))))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION ledger_document_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND (NOT c.restrict_inbound OR (r.closed_period_policy <> '' AND split_part(r.closed_period_policy, ':', 1) = r.origin AND r.kind = ANY (string_to_array(split_part(r.closed_period_policy, ':', 2), ','))))) AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND ((to_jsonb(r) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(o) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) OR (r.status IS DISTINCT FROM o.status AND NOT ((o.status = 'open' AND r.status = 'void')))))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND ((to_jsonb(n) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(r) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) OR (n.status IS DISTINCT FROM r.status AND NOT ((r.status = 'open' AND n.status = 'void')))) AND NOT (n.origin <> '' AND (NOT c.restrict_inbound OR (n.closed_period_policy <> '' AND split_part(n.closed_period_policy, ':', 1) = n.origin AND n.kind = ANY (string_to_array(split_part(n.closed_period_policy, ':', 2), ','))))))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;"""

PREVIOUS_DOCUMENT_TRIGGER_FUNCTIONS = """
CREATE OR REPLACE FUNCTION ledger_document_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND (NOT c.restrict_inbound OR r.closed_period_policy <> ''))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION ledger_document_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND (NOT c.restrict_inbound OR r.closed_period_policy <> '')) AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND ((to_jsonb(r) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(o) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) OR (r.status IS DISTINCT FROM o.status AND NOT ((o.status = 'open' AND r.status = 'void')))))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND ((to_jsonb(n) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(r) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at']) OR (n.status IS DISTINCT FROM r.status AND NOT ((r.status = 'open' AND n.status = 'void')))) AND NOT (n.origin <> '' AND (NOT c.restrict_inbound OR n.closed_period_policy <> '')))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_company_years_ahead_amount_format")]

    operations = [RunSQLOnPostgreSQL([DOCUMENT_TRIGGER_FUNCTIONS], [PREVIOUS_DOCUMENT_TRIGGER_FUNCTIONS])]
