from ledger.exceptions import LedgerError


class ApiKeyError(LedgerError):
    """An API key or webhook change refused (a bad name, scope, expiry or URL)."""


class WebhookUrlError(ApiKeyError):
    field = "url"
