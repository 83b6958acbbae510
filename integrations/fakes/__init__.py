"""Local fake vendor servers: plain HTTP servers on 127.0.0.1 that answer the vendors' documented
requests, responses and errors, and record what they received. Tests, ``bench_sync`` and the demo
(``make run``) run the real provider clients against them."""

from .intacct import FakeSageIntacct
from .netsuite import FakeNetSuite
from .qbo import FakeQuickBooksOnline
from .server import FakeVendor
from .xero import FakeXero

FAKES: dict[str, type[FakeVendor]] = {
    "qbo": FakeQuickBooksOnline,
    "xero": FakeXero,
    "intacct": FakeSageIntacct,
    "netsuite": FakeNetSuite,
}

__all__ = ["FAKES", "FakeNetSuite", "FakeSageIntacct", "FakeQuickBooksOnline", "FakeVendor", "FakeXero"]
