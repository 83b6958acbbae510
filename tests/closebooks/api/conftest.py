from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from closebooks.api import services
from ledger import services as ledger_services
from ledger.models import Account, Role
from tests.factories import AccountFactory


@pytest.fixture
def books(company, member):
    """Books closed through 2026-03-31, two accounts, and an administrator."""
    admin = member(company, Role.ADMINISTRATOR, username="ada")
    AccountFactory(company=company, code="1000", type=Account.Type.ASSET, name="Cash")
    AccountFactory(company=company, code="4000", type=Account.Type.REVENUE, name="Sales")
    ledger_services.journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 5),
        actor=None,
        lines=[
            ledger_services.LineInput(Account.objects.get(company=company, code="1000"), debit="5.00"),
            ledger_services.LineInput(Account.objects.get(company=company, code="4000"), credit="5.00"),
        ],
    )
    ledger_services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 3, 31))
    return {"admin": admin}


@pytest.fixture
def key(company, books):
    """key(scope="read", expires_in=None) -> the plaintext of a new key of ``company``."""

    def make(scope="read", expires_in=None, target=None):
        expires = timezone.now() + expires_in if expires_in is not None else None
        return services.api_key_create(
            company=target or company, actor=None, name=f"{scope} key", scope=scope, expires_at=expires
        ).plaintext

    return make


@pytest.fixture
def api():
    """api(method, path, key=None, **kwargs) -> the response of a call with that key."""
    client = Client()

    def call(method, path, key=None, json=None, **kwargs):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        if json is not None:
            import json as _json

            return getattr(client, method)(path, data=_json.dumps(json), content_type="application/json", **headers, **kwargs)
        return getattr(client, method)(path, **headers, **kwargs)

    return call


__all__ = ["api", "books", "key", "timedelta"]
