"""The automatic matcher (LR3), set-based in PostgreSQL.

Pass 1 groups open lines by reconciliation reference and keeps the groups whose balance is within
the permitted difference (LR4). Pass 2 pairs lines without reference by opposite amount: debits and
credits of one amount are each ranked oldest entry date first with ``row_number()`` and the k-th
debit is paired with the k-th credit. Pass 3 (beyond the source system) looks, per counterparty
(the line description), for one line that settles several, with a bounded subset search: at most
``SUBSET_MAX_CANDIDATES`` candidates within ``SUBSET_WINDOW_DAYS`` days, at most
``SUBSET_MAX_PARTS`` settled lines and ``SUBSET_BUDGET`` search steps, and only when the answer is
unambiguous. Its groups get a lower confidence.

Everything is called from ``reconciliation.services`` inside its transaction; nothing here commits.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from django.db import connection

from .exceptions import ReconciliationError

SUBSET_WINDOW_DAYS = 90
SUBSET_MAX_CANDIDATES = 200
SUBSET_MAX_PARTS = 5
SUBSET_BUDGET = 20_000
PACK = 1 << 40  # entry date and line id packed into one bigint: days * PACK + id

CONFIDENCE_REFERENCE = 100
CONFIDENCE_REFERENCE_WITH_DIFFERENCE = 90
CONFIDENCE_AMOUNT = 90
CONFIDENCE_AMOUNT_DUPLICATES = 75
CONFIDENCE_SUBSET = 60

Line = tuple[int, date, int, int]  # id, entry date, account id, signed amount in cents

GROUP_COLUMNS = (
    "proposal_id",
    "number",
    "basis",
    "basis_key",
    "confidence",
    "line_ids",
    "line_count",
    "gross",
    "difference",
    "last_line_id",
    "last_account_id",
    "included",
)
_COLUMNS = ", ".join(GROUP_COLUMNS)


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise ReconciliationError("Reconciliation needs PostgreSQL (set DATABASE_URL): the SQLite demo cannot reconcile.")


# Pass 1. Hash aggregates throughout, no sort of a million rows: the last line of a code (latest
# entry date, then id) is found as the maximum of date and id packed into one bigint.
PASS_1_SQL = f"""
            INSERT INTO reconciliation_proposalgroup ({_COLUMNS})
            SELECT %(proposal)s, row_number() OVER (), 'reference', ref,
                   CASE WHEN total = 0 THEN {CONFIDENCE_REFERENCE} ELSE {CONFIDENCE_REFERENCE_WITH_DIFFERENCE} END,
                   ids, array_length(ids, 1), gross / 100.0, total / 100.0,
                   last_key %% {PACK}, accounts[array_position(ids, last_key %% {PACK})], true
            FROM (
                SELECT ref, currency, array_agg(id) AS ids, array_agg(account_id) AS accounts,
                       sum(greatest(cents, 0)) AS gross, sum(cents) AS total,
                       max((entry_date - DATE '2000-01-01')::bigint * {PACK} + id) AS last_key
                FROM rc_cand
                WHERE ref <> ''
                GROUP BY ref, currency
                HAVING count(*) >= 2 AND abs(sum(cents)) <= %(permitted)s
            ) g
            """  # noqa: S608

# Pass 2, from the pairs in rc_pairs (see ``propose``).
PASS_2_SQL = f"""
            INSERT INTO reconciliation_proposalgroup ({_COLUMNS})
            SELECT %(proposal)s, %(offset)s + row_number() OVER (), 'amount',
                   CASE WHEN n > 1 THEN 'pair ' || rn || ' of ' || n || ' with this amount' ELSE '' END,
                   CASE WHEN n > 1 THEN {CONFIDENCE_AMOUNT_DUPLICATES} ELSE {CONFIDENCE_AMOUNT} END,
                   CASE WHEN (c_date, c_id) > (d_date, d_id) THEN ARRAY[d_id, c_id] ELSE ARRAY[c_id, d_id] END,
                   2, cents / 100.0, 0,
                   CASE WHEN (c_date, c_id) > (d_date, d_id) THEN c_id ELSE d_id END,
                   CASE WHEN (c_date, c_id) > (d_date, d_id) THEN c_account ELSE d_account END, true
            FROM rc_pairs
            """  # noqa: S608


def _store_passes_1_and_2(raw_connection, proposal_id: int, permitted_cents: int, out: dict) -> None:
    """Insert the groups of pass 1 (reference) and pass 2 (amount pairs from rc_pairs), numbered in
    that order. Runs in a helper thread on the request's own psycopg connection and transaction."""
    try:
        with raw_connection.cursor() as cursor:
            cursor.execute(PASS_1_SQL, {"proposal": proposal_id, "permitted": permitted_cents})
            out["by_reference"] = cursor.rowcount
            cursor.execute(PASS_2_SQL, {"proposal": proposal_id, "offset": out["by_reference"]})
    except Exception as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
        out["error"] = exc


def _session_memory(cursor) -> None:
    """Room for the matcher's sorts, hashes and temporary tables. PostgreSQL's default temp_buffers
    (8 MB) would send a million-row temporary table to disk; it can only be raised before the
    session's first temporary table, so this is set as early as possible (and is a no-op after).
    JIT is off for the transaction: at a million rows every statement crosses the JIT cost thresholds
    and compiling and optimising the expressions costs more than it saves on these short scans."""
    cursor.execute("SET temp_buffers = '1GB'")
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")


def propose(
    *,
    proposal_id: int,
    company_id: int,
    account_ids: Sequence[int],
    permitted: Decimal,
    line_ids: Sequence[int] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict:
    require_postgresql()
    report = progress or (lambda stage, percent: None)
    columns = ", ".join(GROUP_COLUMNS)
    with connection.cursor() as cursor:
        _session_memory(cursor)
        report("collecting open lines", 5)
        selection = "AND l.id = ANY(%(line_ids)s)" if line_ids is not None else ""
        cursor.execute(
            f"""
            CREATE TEMP TABLE rc_cand ON COMMIT DROP AS
            SELECT l.id, l.entry_date, l.account_id, l.currency COLLATE "C" AS currency,
                   ((l.debit - l.credit) * 100)::bigint AS cents,
                   l.reconciliation_ref COLLATE "C" AS ref,
                   CASE WHEN l.description <> '' THEN hashtextextended(lower(btrim(l.description)), 0) END AS party
            FROM ledger_journalline l
            WHERE l.company_id = %(company)s AND l.account_id = ANY(%(accounts)s) {selection}
              AND NOT EXISTS (SELECT 1 FROM reconciliation_reconciledline r WHERE r.line_id = l.id)
            """,  # noqa: S608 - only our own fragment is interpolated
            {"company": company_id, "accounts": list(account_ids), "line_ids": list(line_ids or [])},
        )
        candidates = cursor.rowcount
        cursor.execute("ANALYZE rc_cand")

        report("pass 2: opposite amounts, oldest first", 45)
        # Most amounts occur once per side: a hash aggregate per amount pairs them directly. Only the
        # amounts with duplicates are ranked oldest entry date first and paired k-th with k-th.
        cursor.execute(
            """
            CREATE TEMP TABLE rc_amounts ON COMMIT DROP AS
            SELECT currency, abs(cents) AS cents,
                   count(*) FILTER (WHERE cents > 0) AS nd, count(*) FILTER (WHERE cents < 0) AS nc,
                   max(id) FILTER (WHERE cents > 0) AS d_id, max(id) FILTER (WHERE cents < 0) AS c_id,
                   max(entry_date) FILTER (WHERE cents > 0) AS d_date, max(entry_date) FILTER (WHERE cents < 0) AS c_date,
                   max(account_id) FILTER (WHERE cents > 0) AS d_account, max(account_id) FILTER (WHERE cents < 0) AS c_account
            FROM rc_cand
            WHERE ref = ''
            GROUP BY currency, abs(cents)
            HAVING bool_or(cents > 0) AND bool_or(cents < 0)
            """
        )
        cursor.execute("ANALYZE rc_amounts")
        cursor.execute("CREATE TEMP TABLE rc_dup ON COMMIT DROP AS SELECT currency, cents FROM rc_amounts WHERE nd > 1 OR nc > 1")
        cursor.execute("ANALYZE rc_dup")
        cursor.execute(
            """
            CREATE TEMP TABLE rc_ranked ON COMMIT DROP AS
            SELECT l.id, l.entry_date, l.account_id, l.currency, l.cents,
                   row_number() OVER (PARTITION BY l.currency, l.cents ORDER BY l.entry_date, l.id) AS rn,
                   count(*) OVER (PARTITION BY l.currency, l.cents) AS n
            FROM rc_cand l
            WHERE l.ref = '' AND EXISTS (SELECT 1 FROM rc_dup a WHERE a.currency = l.currency AND a.cents = abs(l.cents))
            """
        )
        cursor.execute(
            """
            CREATE TEMP TABLE rc_pairs ON COMMIT DROP AS
            SELECT d_id, c_id, cents, 1::bigint AS rn, 1::bigint AS n, d_date, c_date, d_account, c_account
            FROM rc_amounts WHERE nd = 1 AND nc = 1
            UNION ALL
            SELECT d.id, c.id, d.cents, d.rn, greatest(d.n, c.n), d.entry_date, c.entry_date, d.account_id, c.account_id
            FROM rc_ranked d
            JOIN rc_ranked c ON c.currency = d.currency AND c.cents = -d.cents AND c.rn = d.rn
            WHERE d.cents > 0
            """
        )
        by_amount = cursor.rowcount
        report("pass 3: one line settling several", 60)
        cursor.execute(
            """
            SELECT c.party, c.currency, c.entry_date, c.id, c.account_id, c.cents
            FROM rc_cand c
            WHERE c.ref = '' AND c.party IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM rc_pairs p WHERE p.d_id = c.id)
              AND NOT EXISTS (SELECT 1 FROM rc_pairs p WHERE p.c_id = c.id)
            """
        )
        by_party: dict[tuple[int, str], list[Line]] = defaultdict(list)
        for party, currency, entry_date, line_id, account_id, cents in cursor.fetchall():
            by_party[party, currency].append((line_id, entry_date, account_id, cents))
        # The groups of passes 1 and 2 are stored by PostgreSQL while Python searches pass 3: two
        # cores, two workers. The main thread does not touch the connection until the store is done.
        stored: dict = {}
        store = threading.Thread(
            target=_store_passes_1_and_2,
            args=(cursor.cursor.connection, proposal_id, int(permitted * 100), stored),
            name="reconciliation-store",
        )
        store.start()
        try:
            settlements: list[list[Line]] = []
            for lines in by_party.values():
                if len(lines) >= 3:
                    lines.sort(key=lambda line: (line[1], line[0]))
                    settlements.extend(find_settlements(lines))
        finally:
            store.join()
        if "error" in stored:
            raise stored["error"]
        by_reference = stored["by_reference"]
        # the counterparty as the user wrote it, for the group's "why"
        cursor.execute(
            "SELECT id, btrim(description) FROM ledger_journalline WHERE id = ANY(%s)", [[group[-1][0] for group in settlements]]
        )
        party_of = dict(cursor.fetchall())
        number = by_reference + by_amount
        raw = cursor.cursor
        with raw.copy(f"COPY reconciliation_proposalgroup ({columns}) FROM STDIN") as copy:
            for group in settlements:
                number += 1
                ids = [line[0] for line in group]
                gross = sum(line[3] for line in group if line[3] > 0)
                last = group[-1]
                copy.write_row(
                    (
                        proposal_id,
                        number,
                        "subset",
                        party_of.get(group[-1][0], "")[:200],
                        CONFIDENCE_SUBSET,
                        ids,
                        len(ids),
                        Decimal(gross) / 100,
                        Decimal("0.00"),
                        last[0],
                        last[2],
                        True,
                    )
                )
        by_subset = len(settlements)
        report("proposal stored", 100)
        cursor.execute(
            "SELECT coalesce(sum(line_count), 0) FROM reconciliation_proposalgroup WHERE proposal_id = %s", [proposal_id]
        )
        (proposed_lines,) = cursor.fetchone()
    return {
        "candidates": candidates,
        "groups": {"reference": by_reference, "amount": by_amount, "subset": by_subset},
        "proposed_lines": int(proposed_lines),
    }


def find_settlements(lines: Sequence[Line]) -> list[list[Line]]:
    """One counterparty's open lines (sorted by date): groups where one line settles 2..SUBSET_MAX_PARTS
    lines of the opposite sign exactly. Largest settling lines first; a settling line whose answer is
    ambiguous (two different sets of amounts fit) is left for a person."""
    sides = {True: [line for line in lines if line[3] > 0], False: [line for line in lines if line[3] < 0]}
    days = {side: [line[1].toordinal() for line in side_lines] for side, side_lines in sides.items()}
    used: set[int] = set()
    found: list[list[Line]] = []
    for settler in sorted(lines, key=lambda line: (-abs(line[3]), line[1], line[0])):
        if settler[0] in used:
            continue
        side = settler[3] < 0  # the settled lines have the opposite sign
        goal = abs(settler[3])
        day = settler[1].toordinal()
        side_days = days[side]
        lo = bisect.bisect_left(side_days, day - SUBSET_WINDOW_DAYS)
        hi = bisect.bisect_right(side_days, day + SUBSET_WINDOW_DAYS)
        if hi - lo < 2:
            continue
        window = [line for line in sides[side][lo:hi] if abs(line[3]) < goal and line[0] not in used]
        if len(window) < 2:
            continue
        if len(window) > SUBSET_MAX_CANDIDATES:
            window.sort(key=lambda line: abs(line[1].toordinal() - day))
            window = window[:SUBSET_MAX_CANDIDATES]
        subset = _unique_subset(window, goal)
        if subset is None:
            continue
        group = sorted([*subset, settler], key=lambda line: (line[1], line[0]))
        used.update(line[0] for line in group)
        found.append(group)
    return found


def _unique_subset(candidates: list[Line], goal: int) -> list[Line] | None:
    """A subset of 2..SUBSET_MAX_PARTS candidates whose amounts sum to ``goal`` (cents, positive), if exactly one set of amounts
    does (equal amounts are interchangeable: the oldest are taken). Bounded by SUBSET_BUDGET steps."""
    items = sorted(candidates, key=lambda line: (-abs(line[3]), line[1], line[0]))
    values = [abs(line[3]) for line in items]
    if sum(values[:SUBSET_MAX_PARTS]) < goal or values[-1] + values[-2] > goal:
        return None
    solutions: list[tuple[int, ...]] = []
    steps = 0

    def search(start: int, remaining: int, chosen: list[int]) -> bool:
        nonlocal steps
        previous = None
        for i in range(start, len(values)):
            steps += 1
            if steps > SUBSET_BUDGET:
                return True
            value = values[i]
            if value == previous or value > remaining:
                continue  # equal amounts give the same set of amounts; too large cannot fit
            parts_left = SUBSET_MAX_PARTS - len(chosen) - 1
            if value * (parts_left + 1) < remaining:
                return False  # even repeating this value (the largest left) cannot reach the goal
            previous = value
            chosen.append(i)
            if value == remaining and len(chosen) >= 2:
                solutions.append(tuple(chosen))
                if len(solutions) > 1:
                    return True
            elif value < remaining and parts_left > 0 and search(i + 1, remaining - value, chosen):
                return True
            chosen.pop()
        return False

    exhausted = search(0, goal, [])
    if exhausted and steps > SUBSET_BUDGET:
        return None
    if len(solutions) != 1:
        return None
    # among equal amounts take the oldest lines: items are sorted by amount, then date, so the
    # chosen index of each amount is its first (oldest) occurrence.
    return [items[i] for i in solutions[0]]


ID_LOCK = 7_000_001  # advisory lock key: reserving blocks of reconciliation ids


def reserve_ids(count: int) -> int:
    """The first of ``count`` consecutive new reconciliation ids, taken from the table's sequence. A
    session advisory lock keeps the nextval/setval pair atomic against other reservations."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ID_LOCK])
        try:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('reconciliation_reconciliation', 'id'))")
            (first,) = cursor.fetchone()
            if count > 1:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('reconciliation_reconciliation', 'id'), %s)", [first + count - 1]
                )
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ID_LOCK])
    return first


def apply(
    *,
    proposal_id: int,
    company_id: int,
    account_id: int,
    account_ids: Sequence[int],
    reconciled_on: date,
    user_id: int | None,
    write_offs: Sequence[tuple[int, int, Decimal]],
    write_off_entry_id: int | None,
    discrepancy_account_id: int | None,
    verify_lines: bool,
) -> dict:
    """Stamp the ticked groups of a proposal: one reconciliation (code) per group and its lines claimed
    in ReconciledLine (primary key = line id), in two INSERT ... SELECT statements. ``write_offs`` are
    (group number, write-off line id, signed write-off amount): the write-off line joins its code last.
    ``verify_lines`` checks first that every proposed line still exists (entries changed meanwhile)."""
    require_postgresql()
    with connection.cursor() as cursor:
        _session_memory(cursor)
        if verify_lines:
            cursor.execute(
                """
                SELECT count(*) FROM reconciliation_proposalgroup g CROSS JOIN LATERAL unnest(g.line_ids) AS u(line_id)
                WHERE g.proposal_id = %(proposal)s AND g.included AND NOT EXISTS (
                    SELECT 1 FROM ledger_journalline l
                    WHERE l.id = u.line_id AND l.company_id = %(company)s AND l.account_id = ANY(%(accounts)s))
                """,
                {"proposal": proposal_id, "company": company_id, "accounts": list(account_ids)},
            )
            if cursor.fetchone()[0]:
                raise ReconciliationError(
                    "Some lines of this proposal were changed or deleted since it was made. Nothing was saved: "
                    "make a new proposal."
                )
        cursor.execute("SELECT coalesce(max(number), 0) FROM reconciliation_proposalgroup WHERE proposal_id = %s", [proposal_id])
        (highest,) = cursor.fetchone()
        if not highest:
            return {"reconciliations": 0, "lines": 0, "write_offs": 0}
        first = reserve_ids(highest) - 1  # a group's code id is first + its number
        cursor.execute("CREATE TEMP TABLE rc_wo (number bigint PRIMARY KEY, line_id bigint, amount numeric(20,2)) ON COMMIT DROP")
        if write_offs:
            with cursor.cursor.copy("COPY rc_wo (number, line_id, amount) FROM STDIN") as copy:
                for row in write_offs:
                    copy.write_row(row)
        params = {
            "proposal": proposal_id,
            "first": first,
            "company": company_id,
            "account": account_id,
            "on": reconciled_on,
            "user": user_id,
            "entry": write_off_entry_id,
            "discrepancy": discrepancy_account_id,
        }
        cursor.execute(
            """
            INSERT INTO reconciliation_reconciliation
                (id, company_id, account_id, reconciled_on, reconciled_by_id, basis, basis_key, line_ids,
                 write_off_amount, write_off_entry_id, write_off_line_id, discrepancy_account_id, created_at)
            SELECT %(first)s + g.number, %(company)s, %(account)s, %(on)s, %(user)s, g.basis, g.basis_key,
                   CASE WHEN w.line_id IS NULL THEN g.line_ids ELSE g.line_ids || w.line_id END,
                   coalesce(w.amount, 0), CASE WHEN w.line_id IS NULL THEN NULL ELSE %(entry)s::bigint END, w.line_id,
                   CASE WHEN w.line_id IS NULL THEN NULL ELSE %(discrepancy)s::bigint END, now()
            FROM reconciliation_proposalgroup g LEFT JOIN rc_wo w ON w.number = g.number
            WHERE g.proposal_id = %(proposal)s AND g.included
            """,
            params,
        )
        groups = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO reconciliation_reconciledline (line_id, reconciliation_id)
            SELECT line_id, rid FROM (
                SELECT unnest(g.line_ids) AS line_id, %(first)s + g.number AS rid
                FROM reconciliation_proposalgroup g
                WHERE g.proposal_id = %(proposal)s AND g.included
                UNION ALL
                SELECT w.line_id, %(first)s + g.number
                FROM rc_wo w JOIN reconciliation_proposalgroup g ON g.proposal_id = %(proposal)s AND g.number = w.number
            ) claimed
            ORDER BY line_id  -- the primary key index then grows at its right edge instead of everywhere
            """,
            params,
        )
        claimed = cursor.rowcount
    return {"reconciliations": groups, "lines": claimed, "write_offs": len(write_offs)}
