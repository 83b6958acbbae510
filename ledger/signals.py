"""Signals the ledger sends after something has happened, for the layers above it (the ledger
imports none of them). They only announce: every rule has already run and committed.

``books_closed_date_moved``: the effective books-closed date of a company (or one entity) moved.
Sent after the transaction commits, with ``company_id``, ``entity_key`` ("" for the company),
``before`` and ``after`` (ISO dates or None), ``source`` (manual, integration) and ``source_name``.
"""

from django.dispatch import Signal

books_closed_date_moved = Signal()
