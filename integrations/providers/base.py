"""The one provider interface (IN1). A provider is a real HTTP client of a vendor's documented
API; the sync engine, the pages and the tasks only ever talk to this interface.

Errors are classified here, once, so the engine knows what to do with each: retry later
(``RateLimited``, ``TransientError``), refresh the token and retry (``TokenExpired``), give up on
one entry (``EntryRejected``, incl. ``ClosedPeriodRejected``) or stop the run (``ConnectionBroken``,
``UnexpectedResponse``).
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ledger.money import MoneyError, money_parse


class ProviderError(Exception):
    """Base of everything a provider raises. Messages never contain a secret."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TokenExpired(ProviderError):
    """401: the access token expired; refresh and try again."""


class ConnectionBroken(ProviderError):
    """The vendor refuses the credentials (revoked, dead refresh token, wrong tenant): reconnect."""


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(ProviderError):
    """5xx, timeouts, connection resets: the same request may be sent again (same idempotency key)."""


class UnexpectedResponse(ProviderError):
    """The vendor answered something its documentation does not describe."""


CENT = Decimal("0.01")


def vendor_money(value: object, *, vendor: str, what: str = "an amount", currency: str | None = None) -> Decimal:
    """An amount read from a vendor's answer by the one money parser (``ledger.money``): plain
    decimal notation only, never rounded (more decimals than the currency has are refused rather
    than changed), never NaN, Infinity, an exponent or beyond what the books hold. Every provider
    reads amounts through here, so a malformed one fails the pull with a clear run error instead
    of crashing it or entering the books."""
    try:
        return money_parse(value, currency=currency, label=f"{what[:1].upper()}{what[1:]} from {vendor}", blank=None)
    except MoneyError as exc:
        raise UnexpectedResponse(exc.message) from None


def vendor_date(value: object, *, vendor: str, what: str = "a date") -> date:
    """An ISO date (``YYYY-MM-DD``, optionally followed by a time) read from a vendor."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UnexpectedResponse(f"{vendor} sent {what} {value!r} that is not a date (YYYY-MM-DD).") from None


class TenantChoiceNeeded(ProviderError):
    """The sign-in authorised several tenants (Xero organisations): the user must choose one.
    ``tokens`` are the sign-in's, kept by the caller until the choice is made."""

    def __init__(self, vendor: str, tenants: list[tuple[str, str]]):
        super().__init__(f"{vendor}: this sign-in authorised {len(tenants)} organisations; choose the one to connect.")
        self.tenants = tenants
        self.tokens: Tokens | None = None


# Characters XML 1.0 cannot carry (§2.2 Char): control characters other than tab, newline, carriage return.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """Free text (a memo, a description) for an XML request: characters XML cannot carry become spaces."""
    return _NOT_XML.sub(" ", value)


def xml_identifier(value: str, what: str) -> str:
    """An identifier or secret for an XML request: refused when XML cannot carry it (never altered)."""
    if _NOT_XML.search(value):
        raise ProviderError(f"The {what} contains a control character that cannot be sent; type it again.")
    return value


class EntryRejected(ProviderError):
    """The vendor refused one entry (validation). Sending it again would be refused again."""


class ClosedPeriodRejected(EntryRejected):
    """The vendor refused an entry dated in its closed (locked) period."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never let a secret reach a log line through repr()
        return f"Tokens(access_expires_at={self.access_expires_at!r})"


@dataclass(frozen=True)
class RemoteAccount:
    external_id: str
    number: str
    name: str
    type: str
    active: bool


@dataclass(frozen=True)
class PushLine:
    external_account_id: str
    external_account_code: str
    debit: Decimal
    credit: Decimal
    description: str = ""


@dataclass(frozen=True)
class PushEntry:
    """One local journal entry as the vendor should hold it. ``key`` is the idempotency key of the
    request that carries it; ``external_id``/``external_version`` are set when it exists remotely
    and must be updated instead of created (an entry changed after its sync)."""

    local_id: int
    entry_date: date
    memo: str
    reference: str
    currency: str
    lines: tuple[PushLine, ...]
    external_id: str = ""
    external_version: str = ""
    entity: str = ""  # the vendor's entity (Sage Intacct location) the entry belongs to (BC9)
    base_currency: str = ""  # the company's base currency: an entry in it is sent without a currency where the vendor wants that


@dataclass
class PushOutcome:
    local_id: int
    external_id: str = ""
    external_version: str = ""
    error: ProviderError | None = None
    warnings: tuple[str, ...] = ()  # what the vendor said about an entry it accepted (Xero's per-journal Warnings)


@dataclass(frozen=True)
class ClosedDate:
    """The vendor's closed (lock) date. ``entity`` is empty for a single-entity company."""

    closed_through: date | None
    entity: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundLine:
    """One side of an inbound transaction, on a vendor account (by id, or by code where the
    vendor names accounts by code, as Xero's line items do)."""

    debit: Decimal
    credit: Decimal
    external_account_id: str = ""
    external_account_code: str = ""
    description: str = ""
    # Or the vendor's item (QuickBooks Desktop invoice lines): the item's income account is the account.
    external_item_id: str = ""


@dataclass(frozen=True)
class InboundTransaction:
    """An invoice, bill or payment made in the accounting system, as the journal lines it posts."""

    kind: str  # invoice | bill | payment | journal
    external_id: str
    number: str
    txn_date: date | None
    memo: str
    lines: tuple[InboundLine, ...]
    entity: str = ""  # the vendor's entity (Sage Intacct location) it belongs to, checked against its own date (BC9)
    # Set when the vendor sent this transaction in a shape closebooks cannot read (an amount or a date it
    # does not understand): it is refused on its own, with this reason on the run; the others go on.
    problem: str = ""

    @classmethod
    def refused(cls, kind: str, external_id: str, number: str, problem: str) -> InboundTransaction:
        return cls(kind=kind, external_id=external_id, number=number, txn_date=None, memo="", lines=(), problem=problem)


@dataclass(frozen=True)
class ProviderConfig:
    """Where the vendor lives and who we are to it. Base URLs are configurable so that a fake
    vendor on 127.0.0.1 can stand in for the real one; a connection keeps the URLs it was made with."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    api_base_url: str
    connections_url: str = ""

    def __repr__(self) -> str:
        return f"ProviderConfig(client_id={self.client_id!r}, api_base_url={self.api_base_url!r})"


# How a provider's requests reach the vendor (``Provider.transport``); the sync engine dispatches on it
# (``integrations.services.transports``).
DIRECT = "direct"  # closebooks calls the vendor's API: a pull is answered at once, a push is carried by a worker
QUEUED = "queued"  # nothing can be sent: requests wait in a queue until the vendor's connector polls closebooks


class Provider(abc.ABC):
    """A connection's client. Instances hold the tenant and the current tokens; they never store."""

    code: str
    name: str
    transport: str = DIRECT
    # How many entries one push request may carry, and the vendor's documented per-minute quotas
    # as (bucket, limit) pairs; every request counts against "calls", batch requests also against "batch".
    batch_size: int = 1
    quotas: tuple[tuple[str, int], ...] = ()
    uses_pkce: bool = False  # True: the authorization-code flow carries a PKCE S256 challenge (RFC 7636)
    uses_oauth: bool = True  # False: connected with credentials typed on closebooks' page (Sage Intacct)
    multi_entity: bool = False  # True: the connection lists entities, each with its own closed date (BC9)
    # The lowest version of the vendor-side connector closed-date sync accepts (BC7); "" = any.
    min_closed_date_version: str = ""
    # The provider's exception to BC6 (a ``ledger.guard.InboundPolicy``), handed to the guard as data
    # with each inbound transaction; None: inbound transactions follow the company's setting.
    inbound_policy = None

    def __init__(self, config: ProviderConfig, *, tenant_id: str = "", tokens: Tokens | None = None):
        self.config = config
        self.tenant_id = tenant_id
        self.tokens = tokens

    # ---- OAuth
    @abc.abstractmethod
    def authorize_url(self, *, state: str, redirect_uri: str) -> str: ...

    def prepare_from_callback(self, params: dict[str, str]) -> None:
        """Before the code exchange: what the redirect tells about where the tenant lives (NetSuite's
        account hosts). Nothing for most vendors."""
        return None

    @abc.abstractmethod
    def exchange_code(self, *, code: str, redirect_uri: str) -> Tokens: ...

    @abc.abstractmethod
    def tenant_from_callback(self, params: dict[str, str]) -> tuple[str, str]:
        """(tenant id, tenant name) after the code exchange: QBO's realmId from the redirect,
        Xero's tenantId from its /connections."""

    @abc.abstractmethod
    def refresh(self) -> Tokens:
        """New tokens from the refresh token. The caller must store both at once (rotation)."""

    # ---- data
    @abc.abstractmethod
    def list_accounts(self) -> list[RemoteAccount]: ...

    @abc.abstractmethod
    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        """Create (or update) ``entries`` in one request where the API allows it. ``key`` is the
        idempotency key, stored by the caller before the first send and reused on every retry."""

    @abc.abstractmethod
    def read_closed_dates(self) -> list[ClosedDate]:
        """The vendor's closed date(s), one per entity where the vendor keeps several (BC7, BC9)."""

    def read_closed_date(self) -> ClosedDate:
        """The closed date of a single-entity company (the top level of a multi-entity one)."""
        dates = self.read_closed_dates()
        return next((d for d in dates if not d.entity), dates[0] if dates else ClosedDate(None))

    @abc.abstractmethod
    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        """Invoices, bills and payments changed in the vendor since ``since`` (all when None) (IN6)."""

    @abc.abstractmethod
    def remote_version(self) -> str: ...
