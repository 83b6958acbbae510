"""PostgreSQL enforcement of the books-closed guard (BC4–BC6) and of the append-only audit trail (PC6).

The trigger mirrors ``ledger.guard.books_closed_check`` for writes that bypass the services (raw
SQL, ``bulk_create``, ``QuerySet.update``, COPY). It is statement-level over the transition tables:
one set-based join per statement instead of a query per row, because a per-row trigger made a
million-row COPY 4.3x slower in a measurement here. BC5 needs no exception in it: allowed
operations post on an open date and only touch the columns listed as free below.

Refusals raise SQLSTATE 23514 (check_violation), which Django surfaces as ``IntegrityError``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Guarded:
    table: str
    date_column: str
    # Columns a change may touch on a row dated in the closed period; everything else is a figure.
    figures: str  # SQL expression over alias {r} giving the row's figures
    status_moves: tuple[tuple[str, str], ...] = ()  # (old, new) status changes allowed in the closed period (BC5)
    inbound: str = ""  # SQL condition over {r} (and c = company setting) under which an inbound row is exempt (BC6)


LINE_FIGURES = (
    "({r}.entry_id, {r}.company_id, {r}.entity_id, {r}.entry_date, {r}.account_id, {r}.debit, {r}.credit, {r}.currency)"
)

GUARDED = (
    Guarded(
        table="ledger_journalline",
        date_column="entry_date",
        figures=LINE_FIGURES,
        inbound=(
            "EXISTS (SELECT 1 FROM ledger_journalentry j WHERE j.id = {r}.entry_id AND j.source = 'inbound_sync'"
            " AND (NOT c.restrict_inbound OR j.closed_period_policy <> ''))"
        ),
    ),
    Guarded(
        table="ledger_document",
        date_column="doc_date",
        figures="(to_jsonb({r}) - ARRAY['status', 'voided_at', 'void_entry_id', 'updated_at'])",
        status_moves=(("open", "void"),),
        # The policy marker is "provider:kind,kind" (InboundPolicy.name): it lets in only the kinds it names, from its provider.
        inbound=(
            "({r}.origin <> '' AND (NOT c.restrict_inbound OR ({r}.closed_period_policy <> ''"
            " AND split_part({r}.closed_period_policy, ':', 1) = {r}.origin"
            " AND {r}.kind = ANY (string_to_array(split_part({r}.closed_period_policy, ':', 2), ',')))))"
        ),
    ),
    Guarded(
        table="ledger_payment",
        date_column="process_date",
        figures="(to_jsonb({r}) - ARRAY['status', 'voided_at', 'cancelled_at', 'void_entry_id', 'updated_at'])",
        status_moves=(
            ("scheduled", "cancelled"),
            ("recorded", "voided"),
            ("recorded", "deposited"),
            ("deposited", "cleared"),
        ),
        inbound="({r}.origin <> '' AND NOT c.restrict_inbound)",
    ),
    Guarded(table="ledger_application", date_column="applied_on", figures="to_jsonb({r})"),
    Guarded(table="ledger_customercredit", date_column="credit_date", figures="to_jsonb({r})"),
    Guarded(table="ledger_refund", date_column="refund_date", figures="to_jsonb({r})"),
)


def _closed_rows(g: Guarded, rows: str, extra: str) -> str:
    """A query finding one row of ``rows`` dated on or before its company's (or entity's) closed date."""
    return f"""
    SELECT r.{g.date_column} AS on_date, COALESCE(e.closed_date, c.closed_date) AS closed_date
      FROM {rows} r
      JOIN ledger_booksclosedsetting c
        ON c.company_id = r.company_id AND c.entity_id IS NULL AND c.enabled
      LEFT JOIN ledger_booksclosedsetting e
        ON r.entity_id IS NOT NULL AND e.company_id = r.company_id AND e.entity_id = r.entity_id
     WHERE r.{g.date_column} <= COALESCE(e.closed_date, c.closed_date) {extra}
     LIMIT 1"""


def _status_changed_badly(g: Guarded, new: str, old: str) -> str:
    if not g.status_moves:
        return "FALSE"
    allowed = " OR ".join(f"({old}.status = '{a}' AND {new}.status = '{b}')" for a, b in g.status_moves)
    return f"({new}.status IS DISTINCT FROM {old}.status AND NOT ({allowed}))"


def _figures(g: Guarded, alias: str) -> str:
    return g.figures.replace("{r}", alias)


def _changed(g: Guarded, new: str, old: str) -> str:
    return f"({_figures(g, new)} IS DISTINCT FROM {_figures(g, old)} OR {_status_changed_badly(g, new, old)})"


def _raise(g: Guarded, op: str) -> str:
    return f"""
    IF FOUND THEN
      RAISE EXCEPTION 'books closed: cannot {op} {g.table} row dated % (closed through %)', v.on_date, v.closed_date
        USING ERRCODE = 'check_violation',
              HINT = 'Post on a later date, or move the books-closed date earlier with a reason (BC3).';
    END IF;"""


def _function(g: Guarded, op: str) -> str:
    exempt = f"AND NOT {g.inbound.replace('{r}', 'r')}" if g.inbound else ""
    if op == "insert":
        body = _closed_rows(g, "new_rows", exempt) + " INTO v;" + _raise(g, "insert")
    elif op == "delete":
        body = _closed_rows(g, "old_rows", "") + " INTO v;" + _raise(g, "delete")
    else:
        new_side = _closed_rows(
            g, "new_rows", f"{exempt} AND EXISTS (SELECT 1 FROM old_rows o WHERE o.id = r.id AND {_changed(g, 'r', 'o')})"
        )
        old_side = _closed_rows(
            g,
            "old_rows",
            f"AND EXISTS (SELECT 1 FROM new_rows n WHERE n.id = r.id AND {_changed(g, 'n', 'r')}"
            + (f" AND NOT {g.inbound.replace('{r}', 'n')}" if g.inbound else "")
            + ")",
        )
        body = new_side + " INTO v;" + _raise(g, "update") + old_side + " INTO v;" + _raise(g, "update")
    return f"""
CREATE OR REPLACE FUNCTION {g.table}_books_closed_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE v record;
BEGIN
  -- Cheap exit while no company has closed books on.
  IF NOT EXISTS (SELECT 1 FROM ledger_booksclosedsetting WHERE enabled) THEN
    RETURN NULL;
  END IF;
  {body}
  RETURN NULL;
END
$fn$;"""


def _trigger(g: Guarded, op: str) -> str:
    if op == "insert":
        refs = "REFERENCING NEW TABLE AS new_rows"
    elif op == "delete":
        refs = "REFERENCING OLD TABLE AS old_rows"
    else:
        refs = "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    return f"""
CREATE TRIGGER {g.table}_books_closed_{op}
  AFTER {op.upper()} ON {g.table} {refs}
  FOR EACH STATEMENT EXECUTE FUNCTION {g.table}_books_closed_{op}();"""


OPS = ("insert", "update", "delete")

BOOKS_CLOSED_TRIGGERS = "\n".join(_function(g, op) + _trigger(g, op) for g in GUARDED for op in OPS)

DROP_BOOKS_CLOSED_TRIGGERS = "\n".join(
    f"DROP TRIGGER IF EXISTS {g.table}_books_closed_{op} ON {g.table};\nDROP FUNCTION IF EXISTS {g.table}_books_closed_{op}();"
    for g in GUARDED
    for op in OPS
)

# PC6: the audit trail is append-only. The one update allowed is the database's own
# ON DELETE SET NULL of the actor when a user is deleted; the event itself never changes.
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

# The posting path's one round trip (BC4, issue item 5): take the company row FOR SHARE, then
# read the company's setting and the entity's date. Two statements in a VOLATILE function, so at
# READ COMMITTED the read takes its snapshot after the lock is granted and sees a date change
# that committed while we waited. (One SELECT joining the setting to the locked company row would
# not: its snapshot predates the wait, and a setting row inserted meanwhile stays invisible.)
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
# (OUT parameters and SELECT INTO: measured at about half the cost of RETURNS TABLE/RETURN QUERY.)

DROP_COMPANY_LOCK_CLOSED_DATE = "DROP FUNCTION IF EXISTS ledger_company_lock_closed_date(bigint, bigint);"
