"""PostgreSQL triggers: the books-closed guard's mirror (BC4–BC6) and the append-only audit trail (PC6).

The SQL is the text this migration installed when it was written (the trigger functions of the
first books-closed commit); later changes are later migrations. SQLite (the ``make run`` default)
has no statement-level triggers with transition tables; there the Python guard in the services
still holds, so this migration does nothing on other databases."""

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


BOOKS_CLOSED_TRIGGERS = """
CREATE OR REPLACE FUNCTION ledger_journalline_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.entry_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.entry_date <= COALESCE(e.closed_date, c.closed_date) AND NOT EXISTS (SELECT 1 FROM ledger_journalentry j WHERE j.id = r.entry_id AND j.source = 'inbound_sync' AND (NOT c.restrict_inbound OR j.closed_period_policy <> ''))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_journalline row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_books_closed_insert
  AFTER INSERT ON ledger_journalline REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_books_closed_insert();

CREATE OR REPLACE FUNCTION ledger_journalline_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.entry_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.entry_date <= COALESCE(e.closed_date, c.closed_date) AND NOT EXISTS (SELECT 1 FROM ledger_journalentry j WHERE j.id = r.entry_id AND j.source = 'inbound_sync' AND (NOT c.restrict_inbound OR j.closed_period_policy <> '')) AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND ((r.entry_id, r.company_id, r.entity_id, r.entry_date, r.account_id, r.debit, r.credit, r.currency) IS DISTINCT FROM (o.entry_id, o.company_id, o.entity_id, o.entry_date, o.account_id, o.debit, o.credit, o.currency) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_journalline row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.entry_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.entry_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND ((n.entry_id, n.company_id, n.entity_id, n.entry_date, n.account_id, n.debit, n.credit, n.currency) IS DISTINCT FROM (r.entry_id, r.company_id, r.entity_id, r.entry_date, r.account_id, r.debit, r.credit, r.currency) OR FALSE) AND NOT EXISTS (SELECT 1 FROM ledger_journalentry j WHERE j.id = n.entry_id AND j.source = 'inbound_sync' AND (NOT c.restrict_inbound OR j.closed_period_policy <> '')))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_journalline row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_books_closed_update
  AFTER UPDATE ON ledger_journalline REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_journalline_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.entry_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.entry_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_journalline row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_books_closed_delete
  AFTER DELETE ON ledger_journalline REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_books_closed_delete();

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
CREATE TRIGGER ledger_document_books_closed_insert
  AFTER INSERT ON ledger_document REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_document_books_closed_insert();

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
$fn$;
CREATE TRIGGER ledger_document_books_closed_update
  AFTER UPDATE ON ledger_document REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_document_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_document_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.doc_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.doc_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_document row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_document_books_closed_delete
  AFTER DELETE ON ledger_document REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_document_books_closed_delete();

CREATE OR REPLACE FUNCTION ledger_payment_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.process_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.process_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND NOT c.restrict_inbound)
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_payment row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_payment_books_closed_insert
  AFTER INSERT ON ledger_payment REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_payment_books_closed_insert();

CREATE OR REPLACE FUNCTION ledger_payment_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.process_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.process_date <= COALESCE(e.closed_date, c.closed_date) AND NOT (r.origin <> '' AND NOT c.restrict_inbound) AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND ((to_jsonb(r) - ARRAY['status', 'voided_at', 'cancelled_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(o) - ARRAY['status', 'voided_at', 'cancelled_at', 'void_entry_id', 'updated_at']) OR (r.status IS DISTINCT FROM o.status AND NOT ((o.status = 'scheduled' AND r.status = 'cancelled') OR (o.status = 'recorded' AND r.status = 'voided') OR (o.status = 'recorded' AND r.status = 'deposited') OR (o.status = 'deposited' AND r.status = 'cleared')))))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_payment row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.process_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.process_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND ((to_jsonb(n) - ARRAY['status', 'voided_at', 'cancelled_at', 'void_entry_id', 'updated_at']) IS DISTINCT FROM (to_jsonb(r) - ARRAY['status', 'voided_at', 'cancelled_at', 'void_entry_id', 'updated_at']) OR (n.status IS DISTINCT FROM r.status AND NOT ((r.status = 'scheduled' AND n.status = 'cancelled') OR (r.status = 'recorded' AND n.status = 'voided') OR (r.status = 'recorded' AND n.status = 'deposited') OR (r.status = 'deposited' AND n.status = 'cleared')))) AND NOT (n.origin <> '' AND NOT c.restrict_inbound))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_payment row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_payment_books_closed_update
  AFTER UPDATE ON ledger_payment REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_payment_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_payment_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.process_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.process_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_payment row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_payment_books_closed_delete
  AFTER DELETE ON ledger_payment REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_payment_books_closed_delete();

CREATE OR REPLACE FUNCTION ledger_application_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.applied_on AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.applied_on <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_application row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_application_books_closed_insert
  AFTER INSERT ON ledger_application REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_application_books_closed_insert();

CREATE OR REPLACE FUNCTION ledger_application_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.applied_on AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.applied_on <= COALESCE(e.closed_date, c.closed_date)  AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND (to_jsonb(r) IS DISTINCT FROM to_jsonb(o) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_application row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.applied_on AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.applied_on <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND (to_jsonb(n) IS DISTINCT FROM to_jsonb(r) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_application row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_application_books_closed_update
  AFTER UPDATE ON ledger_application REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_application_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_application_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.applied_on AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.applied_on <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_application row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_application_books_closed_delete
  AFTER DELETE ON ledger_application REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_application_books_closed_delete();

CREATE OR REPLACE FUNCTION ledger_customercredit_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.credit_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.credit_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_customercredit row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_customercredit_books_closed_insert
  AFTER INSERT ON ledger_customercredit REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_customercredit_books_closed_insert();

CREATE OR REPLACE FUNCTION ledger_customercredit_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.credit_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.credit_date <= COALESCE(e.closed_date, c.closed_date)  AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND (to_jsonb(r) IS DISTINCT FROM to_jsonb(o) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_customercredit row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.credit_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.credit_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND (to_jsonb(n) IS DISTINCT FROM to_jsonb(r) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_customercredit row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_customercredit_books_closed_update
  AFTER UPDATE ON ledger_customercredit REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_customercredit_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_customercredit_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.credit_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.credit_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_customercredit row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_customercredit_books_closed_delete
  AFTER DELETE ON ledger_customercredit REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_customercredit_books_closed_delete();

CREATE OR REPLACE FUNCTION ledger_refund_books_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.refund_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.refund_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot insert ledger_refund row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_refund_books_closed_insert
  AFTER INSERT ON ledger_refund REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refund_books_closed_insert();

CREATE OR REPLACE FUNCTION ledger_refund_books_closed_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.refund_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM new_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.refund_date <= COALESCE(e.closed_date, c.closed_date)  AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND (to_jsonb(r) IS DISTINCT FROM to_jsonb(o) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_refund row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
    SELECT r.refund_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.refund_date <= COALESCE(e.closed_date, c.closed_date) AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND (to_jsonb(n) IS DISTINCT FROM to_jsonb(r) OR FALSE))
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot update ledger_refund row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_refund_books_closed_update
  AFTER UPDATE ON ledger_refund REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refund_books_closed_update();

CREATE OR REPLACE FUNCTION ledger_refund_books_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  
    SELECT r.refund_date AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM old_rows r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.refund_date <= COALESCE(e.closed_date, c.closed_date) 
     LIMIT 1 INTO v;
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot delete ledger_refund row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_refund_books_closed_delete
  AFTER DELETE ON ledger_refund REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refund_books_closed_delete();"""

DROP_BOOKS_CLOSED_TRIGGERS = """DROP TRIGGER IF EXISTS ledger_journalline_books_closed_insert ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_journalline_books_closed_update ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_books_closed_update();
DROP TRIGGER IF EXISTS ledger_journalline_books_closed_delete ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_journalline_books_closed_delete();
DROP TRIGGER IF EXISTS ledger_document_books_closed_insert ON ledger_document;
DROP FUNCTION IF EXISTS ledger_document_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_document_books_closed_update ON ledger_document;
DROP FUNCTION IF EXISTS ledger_document_books_closed_update();
DROP TRIGGER IF EXISTS ledger_document_books_closed_delete ON ledger_document;
DROP FUNCTION IF EXISTS ledger_document_books_closed_delete();
DROP TRIGGER IF EXISTS ledger_payment_books_closed_insert ON ledger_payment;
DROP FUNCTION IF EXISTS ledger_payment_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_payment_books_closed_update ON ledger_payment;
DROP FUNCTION IF EXISTS ledger_payment_books_closed_update();
DROP TRIGGER IF EXISTS ledger_payment_books_closed_delete ON ledger_payment;
DROP FUNCTION IF EXISTS ledger_payment_books_closed_delete();
DROP TRIGGER IF EXISTS ledger_application_books_closed_insert ON ledger_application;
DROP FUNCTION IF EXISTS ledger_application_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_application_books_closed_update ON ledger_application;
DROP FUNCTION IF EXISTS ledger_application_books_closed_update();
DROP TRIGGER IF EXISTS ledger_application_books_closed_delete ON ledger_application;
DROP FUNCTION IF EXISTS ledger_application_books_closed_delete();
DROP TRIGGER IF EXISTS ledger_customercredit_books_closed_insert ON ledger_customercredit;
DROP FUNCTION IF EXISTS ledger_customercredit_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_customercredit_books_closed_update ON ledger_customercredit;
DROP FUNCTION IF EXISTS ledger_customercredit_books_closed_update();
DROP TRIGGER IF EXISTS ledger_customercredit_books_closed_delete ON ledger_customercredit;
DROP FUNCTION IF EXISTS ledger_customercredit_books_closed_delete();
DROP TRIGGER IF EXISTS ledger_refund_books_closed_insert ON ledger_refund;
DROP FUNCTION IF EXISTS ledger_refund_books_closed_insert();
DROP TRIGGER IF EXISTS ledger_refund_books_closed_update ON ledger_refund;
DROP FUNCTION IF EXISTS ledger_refund_books_closed_update();
DROP TRIGGER IF EXISTS ledger_refund_books_closed_delete ON ledger_refund;
DROP FUNCTION IF EXISTS ledger_refund_books_closed_delete();"""

AUDIT_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ledger_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
     AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit trail is append-only: % of audit event % refused', TG_OP, OLD.id
    USING ERRCODE = 'check_violation';
END
$fn$;
CREATE TRIGGER ledger_auditevent_append_only
  BEFORE UPDATE OR DELETE ON ledger_auditevent
  FOR EACH ROW EXECUTE FUNCTION ledger_auditevent_append_only();
"""

DROP_AUDIT_APPEND_ONLY = """
DROP TRIGGER IF EXISTS ledger_auditevent_append_only ON ledger_auditevent;
DROP FUNCTION IF EXISTS ledger_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_books_closed_and_documents")]

    operations = [
        RunSQLOnPostgreSQL([BOOKS_CLOSED_TRIGGERS], [DROP_BOOKS_CLOSED_TRIGGERS]),
        RunSQLOnPostgreSQL([AUDIT_APPEND_ONLY], [DROP_AUDIT_APPEND_ONLY]),
    ]
