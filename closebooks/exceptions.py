from ledger.exceptions import LedgerError


class PeriodError(LedgerError):
    """A period transition the close workflow refuses (PC2, PC4, PC5)."""
