"""Provider registry: the code stored on a connection names its client class."""

from .base import Provider, ProviderConfig
from .intacct import SageIntacct
from .netsuite import NetSuite
from .qbd import QuickBooksDesktop
from .qbo import QuickBooksOnline
from .xero import Xero

PROVIDERS: dict[str, type[Provider]] = {
    QuickBooksOnline.code: QuickBooksOnline,
    Xero.code: Xero,
    SageIntacct.code: SageIntacct,
    NetSuite.code: NetSuite,
    QuickBooksDesktop.code: QuickBooksDesktop,
}


def provider_class(code: str) -> type[Provider]:
    try:
        return PROVIDERS[code]
    except KeyError:
        raise ValueError(f"Unknown provider “{code}”.") from None


__all__ = ["PROVIDERS", "NetSuite", "Provider", "ProviderConfig", "SageIntacct", "provider_class"]
