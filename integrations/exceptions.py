from ledger.exceptions import LedgerError


class IntegrationError(LedgerError):
    """A change the integrations refuse; ``field`` names the form field, as for ledger errors."""


class SyncRetryLater(Exception):
    """The vendor kept failing transiently; the run's task should be retried later."""
