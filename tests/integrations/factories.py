"""Builders for integrations tests: a connection to a running fake vendor, made the way the
callback makes it (tokens from the fake's own token endpoint), the chart pulled and mapped."""

from datetime import date
from decimal import Decimal

from integrations import selectors, services
from integrations.fakes import FakeNetSuite, FakeQuickBooksOnline, FakeVendor
from integrations.models import Connection
from ledger import services as ledger_services
from ledger.models import Account, Company, JournalEntry
from tests.factories import AccountFactory


def fake_code(fake: FakeVendor) -> str:
    return fake.vendor if fake.vendor in ("netsuite", "intacct") else "qbo" if isinstance(fake, FakeQuickBooksOnline) else "xero"


def fake_urls(fake: FakeVendor) -> dict:
    if isinstance(fake, FakeNetSuite):
        return {
            "authorize_url": f"{fake.url}/app/login/oauth2/authorize.nl",
            "token_url": f"{fake.url}/services/rest/auth/oauth2/v1/token",
            "api_base_url": fake.url,
            "connections_url": "",
        }
    if isinstance(fake, FakeQuickBooksOnline):
        return {
            "authorize_url": f"{fake.url}/oauth2/authorize",
            "token_url": f"{fake.url}/oauth2/v1/tokens/bearer",
            "api_base_url": fake.url,
            "connections_url": "",
        }
    return {
        "authorize_url": f"{fake.url}/identity/connect/authorize",
        "token_url": f"{fake.url}/identity/connect/token",
        "api_base_url": f"{fake.url}/api.xro/2.0",
        "connections_url": f"{fake.url}/connections",
    }


def provider_settings(fake: FakeVendor) -> dict:
    code = fake_code(fake)
    urls = fake_urls(fake)
    if code != "xero":
        urls.pop("connections_url")
    return {code: {"client_id": fake.client_id, "client_secret": fake.client_secret, **urls}}


def connect_to_fake(company: Company, fake: FakeVendor, *, chart: bool = True, map_accounts: bool = True) -> Connection:
    code = fake_code(fake)
    tokens = fake.issue_tokens()
    from django.utils import timezone

    conn = Connection.objects.create(
        company=company,
        provider=code,
        tenant_id=fake.tenant_id,
        tenant_name=fake.tenant_name,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        access_expires_at=timezone.now() + timezone.timedelta(seconds=tokens["expires_in"]),
        **fake_urls(fake),
    )
    if chart:
        for row in fake.chart:
            Account.objects.get_or_create(
                company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]}
            )
        services.accounts_pull(connection=conn, actor=None)
    if map_accounts:
        suggestions = selectors.mapping_rows(conn)
        services.mappings_save(
            connection=conn,
            choices={r.account.pk: r.suggestion.pk for r in suggestions if r.suggestion is not None},
            actor=None,
        )
    return conn


def post_entries(company: Company, n: int, *, entry_date=date(2026, 1, 15), debit="6100", credit="1000") -> list[JournalEntry]:
    dr = Account.objects.get(company=company, code=debit)
    cr = Account.objects.get(company=company, code=credit)
    return [
        ledger_services.journal_entry_create(
            company=company,
            entry_date=entry_date,
            actor=None,
            memo=f"Rent {i}",
            lines=[
                ledger_services.LineInput(dr, debit=Decimal("100.00") + i),
                ledger_services.LineInput(cr, credit=Decimal("100.00") + i),
            ],
        )
        for i in range(n)
    ]


__all__ = ["AccountFactory", "connect_to_fake", "fake_urls", "post_entries", "provider_settings"]
