"""The only writers of the books. ``core`` holds companies, roles, accounts, the posting service
and the audit trail; ``books_closed`` the books-closed setting; ``documents`` the AR/AP documents.
Import from ``ledger.services``: every public service is re-exported here."""

from . import core as _core
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
from .posting import *  # noqa: F403
from .posting import __all__ as _posting_all

# ``ledger.services`` was one module until this package; every name it had stays reachable here
# (constants such as CENT and MAX_AMOUNT, and the helpers other apps may already import).
globals().update({name: value for name, value in vars(_core).items() if not name.startswith("__") and name not in globals()})

__all__ = [
    *_core_all,
    *_posting_all,
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
from .documents import (  # noqa: E402
    DocumentLineInput,
    application_reverse,
    credit_apply,
    customer_credit_apply,
    customer_credit_balance,
    customer_credit_create,
    customer_credit_delete,
    customer_credit_open_amount,
    customer_credit_update,
    document_applied,
    document_create,
    document_delete,
    document_open_amount,
    document_update,
    document_void,
    payment_apply,
    payment_create,
    payment_delete,
    payment_move,
    payment_unapplied,
    payment_update,
    posting_accounts_get,
    posting_accounts_set,
    refund_create,
    refund_delete,
    refund_update,
)

__all__ += [
    "DocumentLineInput",
    "application_reverse",
    "credit_apply",
    "customer_credit_apply",
    "customer_credit_balance",
    "customer_credit_create",
    "customer_credit_delete",
    "customer_credit_open_amount",
    "customer_credit_update",
    "document_applied",
    "document_create",
    "document_delete",
    "document_open_amount",
    "document_update",
    "document_void",
    "payment_apply",
    "payment_create",
    "payment_delete",
    "payment_move",
    "payment_unapplied",
    "payment_update",
    "posting_accounts_get",
    "posting_accounts_set",
    "refund_create",
    "refund_delete",
    "refund_update",
]
