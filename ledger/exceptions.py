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
