"""The only writers of the books. ``core`` holds companies, roles, accounts, the posting service
and the audit trail; ``books_closed`` the books-closed setting; ``documents`` the AR/AP documents.
Import from ``ledger.services``: every public service is re-exported here."""

from .books_closed import (
    books_closed_close_through,
    books_closed_date_pull,
    books_closed_date_set,
    books_closed_enable,
    books_closed_lock_through,
    books_closed_restrict_inbound_set,
    books_closed_update,
    ledger_entity_ensure,
    ledger_entity_get,
)
from .core import *  # noqa: F403
from .core import __all__ as _core_all

__all__ = [
    *_core_all,
    "books_closed_close_through",
    "books_closed_date_pull",
    "books_closed_date_set",
    "books_closed_enable",
    "books_closed_lock_through",
    "books_closed_restrict_inbound_set",
    "books_closed_update",
    "ledger_entity_ensure",
    "ledger_entity_get",
]
