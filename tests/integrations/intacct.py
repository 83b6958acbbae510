"""Builders for Sage Intacct tests: a connection to a running fake gateway, made the way
``connection_connect_credentials`` makes it, the chart pulled and mapped by number."""

from integrations import selectors, services
from integrations.fakes import FakeSageIntacct
from integrations.fakes.intacct import USER_ID, USER_PASSWORD
from integrations.models import Connection
from ledger.models import Account, Company


def connect_intacct(company: Company, fake: FakeSageIntacct, *, map_accounts: bool = True) -> Connection:
    from django.conf import settings
    from django.test import override_settings

    providers = {
        **settings.INTEGRATIONS_PROVIDERS,
        "intacct": {**settings.INTEGRATIONS_PROVIDERS["intacct"], "api_base_url": fake.url},
    }
    with override_settings(INTEGRATIONS_PROVIDERS=providers):
        conn = services.connection_connect_credentials(
            company=company,
            provider_code="intacct",
            company_id=fake.tenant_id,
            user_id=USER_ID,
            password=USER_PASSWORD,
            actor=None,
        )
    for row in fake.chart:
        Account.objects.get_or_create(company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]})
    services.accounts_pull(connection=conn, actor=None)
    if map_accounts:
        services.mappings_save(
            connection=conn,
            choices={r.account.pk: r.suggestion.pk for r in selectors.mapping_rows(conn) if r.suggestion is not None},
            actor=None,
        )
    return conn
