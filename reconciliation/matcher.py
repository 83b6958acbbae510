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
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection

from .exceptions import ReconciliationError

SUBSET_WINDOW_DAYS = 90
SUBSET_MAX_CANDIDATES = 200
SUBSET_MAX_PARTS = 5
SUBSET_BUDGET = 20_000

CONFIDENCE_REFERENCE = 100
CONFIDENCE_REFERENCE_WITH_DIFFERENCE = 90
CONFIDENCE_AMOUNT = 90
CONFIDENCE_AMOUNT_DUPLICATES = 75
CONFIDENCE_SUBSET = 60

Line = tuple[int, int, int, int]  # id, entry date (days since 2000-01-01), account id, signed amount in cents

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


# Every candidate line is one packed bigint key: days since 2000-01-01 (signed), the line id and the
# account (0: the reconciled account, 1: the account it is reconciled against):
#     key = days * 2^41 + id * 2 + account bit
# Keys order exactly as (entry date, line id), so "oldest first" and "the group's last line" are plain
# bigint comparisons, max() finds the last line with a hash aggregate and no sort, and pass 2 carries
# one column per side instead of three.
DAY_SHIFT = 41
ID_MASK = (1 << DAY_SHIFT) - 1  # the id and account bits of a key


def _key_id(key: str) -> str:
    return f"(({key} & {ID_MASK}) >> 1)"


def _key_account(key: str) -> str:
    return f"(CASE WHEN ({key} & 1) = 1 THEN %(other)s::bigint ELSE %(account)s::bigint END)"


# Pass 1. Hash aggregates throughout, no sort of a million rows.
PASS_1_SQL = f"""
            WITH stored AS (
                INSERT INTO reconciliation_proposalgroup ({_COLUMNS})
                SELECT %(proposal)s, row_number() OVER (), 'reference', ref,
                       CASE WHEN total = 0 THEN {CONFIDENCE_REFERENCE} ELSE {CONFIDENCE_REFERENCE_WITH_DIFFERENCE} END,
                       ids, array_length(ids, 1), gross * 0.01, total * 0.01,
                       {_key_id("last_key")}, {_key_account("last_key")}, true
                FROM (
                    SELECT ref, array_agg({_key_id("key")}) AS ids, sum(greatest(cents, 0)) AS gross, sum(cents) AS total,
                           max(key) AS last_key
                    FROM rc_cand
                    WHERE ref IS NOT NULL
                    GROUP BY ref, currency
                    HAVING count(*) >= 2 AND abs(sum(cents)) <= %(permitted)s
                ) g
                RETURNING line_count
            )
            SELECT count(*), coalesce(sum(line_count), 0) FROM stored
            """  # noqa: S608

# Pass 2: amounts found once per side pair directly (rc_amounts); amounts with duplicates are paired
# k-th oldest debit with k-th oldest credit (rc_ranked). d/c: the debit and the credit line's keys.
PASS_2_SQL = f"""
            INSERT INTO reconciliation_proposalgroup ({_COLUMNS})
            SELECT %(proposal)s, %(offset)s + row_number() OVER (), 'amount',
                   CASE WHEN n > 1 THEN 'pair ' || rn || ' of ' || n || ' with this amount' ELSE '' END,
                   CASE WHEN n > 1 THEN {CONFIDENCE_AMOUNT_DUPLICATES} ELSE {CONFIDENCE_AMOUNT} END,
                   ARRAY[{_key_id("least(d, c)")}, {_key_id("greatest(d, c)")}],
                   2, cents * 0.01, 0, {_key_id("greatest(d, c)")}, {_key_account("greatest(d, c)")}, true
            FROM (
                SELECT d_key AS d, c_key AS c, cents, 1 AS rn, 1 AS n FROM rc_amounts WHERE nd = 1 AND nc = 1
                UNION ALL
                SELECT d.key, c.key, d.cents, d.rn, greatest(d.nd, d.nc)
                FROM rc_ranked d JOIN rc_ranked c ON c.currency = d.currency AND c.cents = -d.cents AND c.rn = d.rn
                WHERE d.cents > 0
            ) pairs
            """  # noqa: S608


def _store_passes_1_and_2(raw_connection, params: dict, out: dict) -> None:
    """Insert the groups of pass 1 (reference) and pass 2 (amount pairs), numbered in that order. Runs
    in a helper thread on the request's own psycopg connection and transaction."""
    try:
        with raw_connection.cursor() as cursor:
            cursor.execute(PASS_1_SQL, params)
            out["by_reference"], out["reference_lines"] = cursor.fetchone()
            cursor.execute(PASS_2_SQL, {**params, "offset": out["by_reference"]})
            out["by_amount"] = cursor.rowcount
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
    account_ids = list(account_ids)
    if not 1 <= len(account_ids) <= 2:
        raise ReconciliationError("An account is reconciled alone or against one other account (LR1).")
    accounts = {"account": account_ids[0], "other": account_ids[-1]}
    with connection.cursor() as cursor:
        _session_memory(cursor)
        report("collecting open lines", 5)
        selection = "AND l.id = ANY(%(line_ids)s)" if line_ids is not None else ""
        for table in ("rc_cand", "rc_amounts", "rc_ranked"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # a second proposal in the same transaction
        # party: the counterparty as written (trimmed), only where pass 3 can use it
        cursor.execute(
            f"""
            CREATE TEMP TABLE rc_cand ON COMMIT DROP AS
            SELECT (l.entry_date - DATE '2000-01-01')::bigint * {1 << DAY_SHIFT} + l.id * 2
                       + (l.account_id <> %(account)s)::int AS key,
                   l.currency COLLATE "C" AS currency,
                   ((l.debit - l.credit) * 100)::bigint AS cents,
                   nullif(l.reconciliation_ref, '') COLLATE "C" AS ref,
                   CASE WHEN l.reconciliation_ref = '' THEN nullif(btrim(l.description), '') END AS party
            FROM ledger_journalline l
            WHERE l.company_id = %(company)s AND l.account_id = ANY(%(accounts)s) {selection}
              AND NOT EXISTS (SELECT 1 FROM reconciliation_reconciledline r WHERE r.line_id = l.id)
            """,  # noqa: S608 - only our own fragment is interpolated
            {"company": company_id, "accounts": account_ids, "line_ids": list(line_ids or []), **accounts},
        )
        candidates = cursor.rowcount
        cursor.execute("ANALYZE rc_cand")

        report("pass 2: opposite amounts, oldest first", 45)
        # Most amounts occur once per side: a hash aggregate per amount pairs them directly. Only the
        # amounts with duplicates are ranked oldest first (rc_ranked); nd/nc count each side.
        cursor.execute(
            """
            CREATE TEMP TABLE rc_amounts ON COMMIT DROP AS
            SELECT currency, abs(cents) AS cents,
                   count(*) FILTER (WHERE cents > 0) AS nd, count(*) FILTER (WHERE cents < 0) AS nc,
                   max(key) FILTER (WHERE cents > 0) AS d_key, max(key) FILTER (WHERE cents < 0) AS c_key
            FROM rc_cand
            WHERE ref IS NULL
            GROUP BY currency, abs(cents)
            HAVING count(*) FILTER (WHERE cents > 0) > 0 AND count(*) FILTER (WHERE cents < 0) > 0
            """
        )
        cursor.execute("ANALYZE rc_amounts")  # without statistics the joins below are planned as sorts
        cursor.execute(
            """
            CREATE TEMP TABLE rc_ranked ON COMMIT DROP AS
            SELECT l.key, l.currency, l.cents, l.party, a.nd, a.nc,
                   row_number() OVER (PARTITION BY l.currency, l.cents ORDER BY l.key) AS rn
            FROM rc_cand l JOIN rc_amounts a ON a.currency = l.currency AND a.cents = abs(l.cents)
            WHERE l.ref IS NULL AND (a.nd > 1 OR a.nc > 1)
            """
        )
        report("pass 3: one line settling several", 60)
        # the lines pass 2 leaves open: amounts on one side only, and duplicates beyond the other side's count
        cursor.execute(
            """
            SELECT c.party, c.currency, c.key, c.cents
            FROM rc_cand c
            WHERE c.ref IS NULL AND c.party IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM rc_amounts a WHERE a.currency = c.currency AND a.cents = abs(c.cents))
            UNION ALL
            SELECT r.party, r.currency, r.key, r.cents
            FROM rc_ranked r
            WHERE r.party IS NOT NULL AND r.rn > CASE WHEN r.cents > 0 THEN r.nc ELSE r.nd END
            """
        )
        candidates_3 = cursor.fetchall()
        # The groups of passes 1 and 2 are stored by PostgreSQL while Python reads and searches the
        # candidates of pass 3: two cores, two workers. The main thread does not touch the connection
        # until the store is done.
        stored: dict = {}
        store = threading.Thread(
            target=_store_passes_1_and_2,
            args=(cursor.cursor.connection, {"proposal": proposal_id, "permitted": int(permitted * 100), **accounts}, stored),
            name="reconciliation-store",
        )
        store.start()
        try:
            by_party: dict[tuple[str, str], list[Line]] = defaultdict(list)
            shown: dict[int, str] = {}  # line id -> the counterparty as written, for the group's "why"
            account_of = (accounts["account"], accounts["other"])
            for party, currency, key, cents in candidates_3:
                line_id = (key & ID_MASK) >> 1
                shown[line_id] = party
                by_party[party.lower(), currency].append((line_id, key >> DAY_SHIFT, account_of[key & 1], cents))
            del candidates_3
            settlements: list[list[Line]] = []
            for lines in by_party.values():
                if len(lines) >= 3:
                    lines.sort(key=lambda line: (line[1], line[0]))
                    settlements.extend(find_settlements(lines))
        finally:
            store.join()
        if "error" in stored:
            raise stored["error"]
        by_reference, by_amount = stored["by_reference"], stored["by_amount"]
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
                        shown.get(last[0], "")[:200],
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
        proposed_lines = int(stored["reference_lines"]) + 2 * by_amount + sum(len(group) for group in settlements)
    return {
        "candidates": candidates,
        "groups": {"reference": by_reference, "amount": by_amount, "subset": by_subset},
        "proposed_lines": proposed_lines,
    }


def find_settlements(lines: Sequence[Line]) -> list[list[Line]]:
    """One counterparty's open lines (sorted by date): groups where one line settles 2..SUBSET_MAX_PARTS
    lines of the opposite sign exactly. Largest settling lines first; a settling line whose answer is
    ambiguous (two different sets of amounts fit) is left for a person."""
    sides = {True: [line for line in lines if line[3] > 0], False: [line for line in lines if line[3] < 0]}
    days = {side: [line[1] for line in side_lines] for side, side_lines in sides.items()}
    used: set[int] = set()
    found: list[list[Line]] = []
    for settler in sorted(lines, key=lambda line: (-abs(line[3]), line[1], line[0])):
        if settler[0] in used:
            continue
        side = settler[3] < 0  # the settled lines have the opposite sign
        goal = abs(settler[3])
        day = settler[1]
        side_days = days[side]
        lo = bisect.bisect_left(side_days, day - SUBSET_WINDOW_DAYS)
        hi = bisect.bisect_right(side_days, day + SUBSET_WINDOW_DAYS)
        if hi - lo < 2:
            continue
        window = [line for line in sides[side][lo:hi] if abs(line[3]) < goal and line[0] not in used]
        if len(window) < 2:
            continue
        if len(window) > SUBSET_MAX_CANDIDATES:
            window.sort(key=lambda line: abs(line[1] - day))
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


@dataclass(frozen=True)
class WriteOff:
    """A proposal's write-off entry, already posted by the posting service (``services``): its id, the
    balancing-discrepancies account (LR4), and per group with a difference (group number, its
    write-off line's id, the signed write-off amount). The line joins its group's code last."""

    entry_id: int
    discrepancy_account_id: int
    lines: Sequence[tuple[int, int, Decimal]]


def _write_off_lines(cursor, write_off: WriteOff) -> None:
    """Fill rc_wo (group number, write-off line id, signed amount) from the posted write-off entry."""
    if write_off.lines:
        numbers, line_ids, amounts = zip(*write_off.lines, strict=True)
        cursor.execute(
            "INSERT INTO rc_wo (number, line_id, amount) SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[])",
            [list(numbers), list(line_ids), list(amounts)],
        )


def apply(
    *,
    proposal_id: int,
    company_id: int,
    account_id: int,
    account_ids: Sequence[int],
    reconciled_on: date,
    user_id: int | None,
    write_off: WriteOff | None,
    verify_lines: bool,
) -> dict:
    """Stamp the ticked groups of a proposal: one reconciliation (code) per group and its lines claimed
    in ReconciledLine (primary key = line id), in one statement that reads the proposal once. With
    ``write_off``, each group with a difference gets its write-off line (posted by the posting
    service before), which joins the group's code last. ``verify_lines`` checks first that every proposed line still
    exists (entries changed meanwhile)."""
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
        cursor.execute("DROP TABLE IF EXISTS rc_wo")
        cursor.execute("CREATE TEMP TABLE rc_wo (number bigint PRIMARY KEY, line_id bigint, amount numeric(20,2)) ON COMMIT DROP")
        if write_off:
            _write_off_lines(cursor, write_off)
        params = {
            "proposal": proposal_id,
            "first": first,
            "company": company_id,
            "account": account_id,
            "on": reconciled_on,
            "user": user_id,
            "entry": write_off.entry_id if write_off else None,
            "discrepancy": write_off.discrepancy_account_id if write_off else None,
        }
        cursor.execute(
            """
            WITH g AS MATERIALIZED (
                SELECT %(first)s + g.number AS rid, g.basis, g.basis_key, w.line_id AS wo_line, w.amount AS wo_amount,
                       CASE WHEN w.line_id IS NULL THEN g.line_ids ELSE g.line_ids || w.line_id END AS line_ids
                FROM reconciliation_proposalgroup g LEFT JOIN rc_wo w ON w.number = g.number
                WHERE g.proposal_id = %(proposal)s AND g.included
            ), codes AS (
                INSERT INTO reconciliation_reconciliation
                    (id, company_id, account_id, reconciled_on, reconciled_by_id, basis, basis_key, line_ids,
                     write_off_amount, write_off_entry_id, write_off_line_id, discrepancy_account_id, created_at)
                SELECT rid, %(company)s, %(account)s, %(on)s, %(user)s, basis, basis_key, line_ids,
                       coalesce(wo_amount, 0), CASE WHEN wo_line IS NULL THEN NULL ELSE %(entry)s::bigint END, wo_line,
                       CASE WHEN wo_line IS NULL THEN NULL ELSE %(discrepancy)s::bigint END, now()
                FROM g
                RETURNING 1
            ), claims AS (
                INSERT INTO reconciliation_reconciledline (line_id, reconciliation_id)
                SELECT u.line_id, g.rid FROM g CROSS JOIN LATERAL unnest(g.line_ids) AS u(line_id)
                ORDER BY u.line_id  -- the primary key index then grows at its right edge instead of everywhere
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM codes), (SELECT count(*) FROM claims)
            """,
            params,
        )
        groups, claimed = cursor.fetchone()
    return {"reconciliations": groups, "lines": claimed, "write_offs": len(write_off.lines) if write_off else 0}
