"""PostgreSQL upkeep of the two summaries of the journal lines that the close wizard reads
instead of scanning a month of lines (PC2, issue 4's targets):

* ``ledger_entryimbalance``: one row per (entry, currency) whose debits minus credits are not
  zero. It is what "unbalanced" means (PC2), so the flags read a handful of rows by index.
* ``ledger_accountdaybalance``: debits, credits and the line count per company, account and
  day: the trial balance of a month reads at most accounts × 31 rows.
* ``ledger_entrydaycount``: journal entries per company and day (kept by triggers on
  ``ledger_journalentry``): the Review step counts a month's entries from at most 31 rows.

They are kept by STATEMENT-level triggers over the transition tables of ``ledger_journalline``
(and ``ledger_journalentry`` for the entry counts),
like the books-closed guard in ``ledger/sql.py``: whatever writes the lines (the posting
service, ``bulk_create``, ``QuerySet.update``, raw SQL, COPY in ``ledger/bulk.py``), each
statement adds its signed deltas in one grouped query. A balanced bulk load has no non-zero
entry delta, so it writes no imbalance row at all. The same trigger keeps the stored
``is_balanced`` flag of the entries it touched equal to "has no imbalance row", so the flag the
posting service and the bulk loader set stays right under writes that bypass them. Rows whose
figures reach zero are deleted, so each table holds only what is non-zero. TRUNCATE of the lines
(entries) empties their summaries. Rows are upserted in key order so concurrent statements lock them in one order.

SQLite (``make run``) has no transition tables: there the selectors compute from the lines.
"""

# The signed rows a statement adds: inserted rows count +1, deleted rows -1, an update both.
_SIGNED = {
    "insert": "SELECT entry_id, company_id, account_id, entry_date, currency, debit, credit, 1 AS n FROM new_rows",
    "delete": "SELECT entry_id, company_id, account_id, entry_date, currency, -debit, -credit, -1 AS n FROM old_rows",
}
_SIGNED["update"] = f"{_SIGNED['insert']} UNION ALL {_SIGNED['delete']}"

_REFS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}

OPS = ("insert", "update", "delete")


def _function(op: str) -> str:
    signed = _SIGNED[op]
    return f"""
CREATE OR REPLACE FUNCTION ledger_journalline_summaries_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  touched bigint[];
  emptied bigint[];
BEGIN
  -- Imbalance per entry and currency (PC2): only keys whose net moved.
  WITH up AS (
    INSERT INTO ledger_entryimbalance AS t (entry_id, currency, imbalance)
    SELECT entry_id, currency, SUM(debit - credit)
      FROM ({signed}) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
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
      FROM ({signed}) s(entry_id, company_id, account_id, entry_date, currency, debit, credit, n)
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
CREATE TRIGGER ledger_journalline_summaries_{op}
  AFTER {op.upper()} ON ledger_journalline {_REFS[op]}
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_{op}();"""


_TRUNCATE = """
CREATE OR REPLACE FUNCTION ledger_journalline_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM ledger_entryimbalance;
  DELETE FROM ledger_accountdaybalance;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalline_summaries_truncate
  AFTER TRUNCATE ON ledger_journalline
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalline_summaries_truncate();"""

_ENTRY_SIGNED = {
    "insert": "SELECT company_id, entry_date, 1 AS n FROM new_rows",
    "delete": "SELECT company_id, entry_date, -1 AS n FROM old_rows",
}
_ENTRY_SIGNED["update"] = f"{_ENTRY_SIGNED['insert']} UNION ALL {_ENTRY_SIGNED['delete']}"


def _entry_function(op: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  emptied bigint[];
BEGIN
  WITH up AS (
    INSERT INTO ledger_entrydaycount AS t (company_id, entry_date, entries)
    SELECT company_id, entry_date, SUM(n) FROM ({_ENTRY_SIGNED[op]}) s(company_id, entry_date, n)
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
CREATE TRIGGER ledger_journalentry_summaries_{op}
  AFTER {op.upper()} ON ledger_journalentry {_REFS[op]}
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_{op}();"""


_ENTRY_TRUNCATE = """
CREATE OR REPLACE FUNCTION ledger_journalentry_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM ledger_entrydaycount;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ledger_journalentry_summaries_truncate
  AFTER TRUNCATE ON ledger_journalentry
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journalentry_summaries_truncate();"""

SUMMARY_TRIGGERS = (
    "\n".join(_function(op) for op in OPS) + _TRUNCATE + "\n".join(_entry_function(op) for op in OPS) + _ENTRY_TRUNCATE
)

DROP_SUMMARY_TRIGGERS = "\n".join(
    f"DROP TRIGGER IF EXISTS ledger_{table}_summaries_{op} ON ledger_{table};\n"
    f"DROP FUNCTION IF EXISTS ledger_{table}_summaries_{op}();"
    for table in ("journalline", "journalentry")
    for op in (*OPS, "truncate")
)

# The summaries of the lines already there, computed once; the migration runs it after the
# triggers exist, under a lock that keeps writers out between the two.
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
