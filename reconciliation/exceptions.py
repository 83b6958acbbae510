"""Reconciliation refusals. They are ``LedgerError``s so forms show them with ``add_service_error``."""

from ledger.exceptions import LedgerError


class ReconciliationError(LedgerError):
    pass


class ReconciliationConflictError(ReconciliationError):
    """Another user reconciled some of the same lines first: one wins, the other gets this."""


class OutsidePermittedDifferenceError(ReconciliationError):
    """The selection leaves a difference beyond the permitted one (LR4); "Write off discrepancy" can still do it (LR5)."""

    def __init__(self, message: str, *, difference, permitted):
        super().__init__(message)
        self.difference = difference
        self.permitted = permitted
