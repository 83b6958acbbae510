"""Domain errors. Views, forms, admin, commands and tasks show their message; none re-implements the rule."""


class LedgerError(Exception):
    """A change the books refuse. ``field`` names the form field the message belongs to, if any."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return self.message


class UnbalancedEntryError(LedgerError):
    pass


class BlockedAccountError(LedgerError):
    field = "lines"


class AccountError(LedgerError):
    """Unknown account, or an account of another company."""

    field = "lines"


class AmountError(LedgerError):
    field = "lines"


class MembershipError(LedgerError):
    pass


class PermissionRefusedError(LedgerError):
    """The actor's role does not allow the change (``ledger.permissions.require``). Views answer
    403 with the message; admin shows it."""

    def __init__(self, message: str, *, permission: str = "", field: str | None = None):
        super().__init__(message, field=field)
        self.permission = permission


class DateRangeError(LedgerError):
    """A date no one means: before 1900 or further ahead than the company allows (issue 18)."""


class BooksClosedError(LedgerError):
    """The guard refused a dated change inside the closed period (BC4, BC6).

    ``operation``, ``on_date`` and ``closed_date`` are kept for callers that report it
    (a sync run lists each rejected inbound transaction, BC6)."""

    field = "doc_date"

    def __init__(self, message: str, *, operation: str, on_date, closed_date, field: str | None = None):
        super().__init__(message, field=field)
        self.operation = operation
        self.on_date = on_date
        self.closed_date = closed_date


class BooksClosedSettingError(LedgerError):
    """A change of the books-closed setting was refused (BC1–BC3)."""


class DocumentError(LedgerError):
    pass


class PaymentError(LedgerError):
    pass


class ApplicationError(LedgerError):
    field = "amount"
