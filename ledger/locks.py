"""The company lock: every service that posts, or that moves what may be posted, takes it first.

Posting takes the company row ``FOR SHARE``: postings run side by side, but a change that
UPDATEs the company row (e.g. moving the books-closed date) waits for them, and they wait
for it. ``FOR KEY SHARE`` would not do: an ordinary UPDATE does not wait for it.
SQLite serialises writers on its own (settings use IMMEDIATE transactions), so there the
lock is a no-op.
"""

from django.db import connection, transaction


def company_lock(company_id: int, *, exclusive: bool = False) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("company_lock must be taken inside transaction.atomic().")
    if connection.vendor != "postgresql":
        return
    mode = "UPDATE" if exclusive else "SHARE"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM ledger_company WHERE id = %s FOR {mode}", [company_id])  # noqa: S608
