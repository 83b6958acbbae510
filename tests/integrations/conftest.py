import pytest

from integrations.fakes import FakeQuickBooksOnline, FakeXero
from tests.integrations.factories import connect_to_fake


@pytest.fixture
def fake_qbo():
    with FakeQuickBooksOnline() as fake:
        yield fake


@pytest.fixture
def fake_xero():
    with FakeXero() as fake:
        yield fake


@pytest.fixture(params=["qbo", "xero"])
def fake(request):
    cls = {"qbo": FakeQuickBooksOnline, "xero": FakeXero}[request.param]
    with cls() as fake:
        yield fake


@pytest.fixture
def connected(db, company, fake):
    """``company`` connected to ``fake`` (either vendor), its chart pulled and mapped by number."""
    return connect_to_fake(company, fake)
