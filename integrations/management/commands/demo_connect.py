"""Connect the demo company to the fake QuickBooks Online started beside the app (``make run``):
the authorization-code flow as a browser would walk it (authorize screen, consent, code
exchange), then the chart of accounts pulled and the suggested mappings accepted. Running it
again repairs the connection in place (the fake forgets its tokens when it restarts)."""

import time

import httpx
from django.core.management.base import BaseCommand, CommandError

from integrations import selectors, services
from integrations.exceptions import IntegrationError
from ledger.management.commands.seed_demo import DEMO_SLUG
from ledger.models import Company


class Command(BaseCommand):
    help = "Connect the demo company to the fake QuickBooks Online named by QBO_* settings."

    def add_arguments(self, parser):
        parser.add_argument("--redirect-uri", default="http://127.0.0.1:8000/integrations/callback/qbo/")
        parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the fake to answer")

    def handle(self, *args, redirect_uri, wait, **options):
        company = Company.objects.filter(slug=DEMO_SLUG).first()
        if company is None:
            raise CommandError("No demo company: run `manage.py seed_demo` first.")
        url, state, _verifier = services.oauth_authorize_url(provider_code="qbo", redirect_uri=redirect_uri)
        deadline = time.monotonic() + wait
        while True:
            try:
                httpx.get(url).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise CommandError(f"The fake QuickBooks Online at {url.split('?')[0]} does not answer.") from None
                time.sleep(0.3)
        consent = httpx.post(url.split("?")[0], data={**dict(httpx.URL(url).params), "decision": "allow"})
        back = dict(httpx.URL(consent.headers["location"]).params)
        if back.get("state") != state:
            raise CommandError("The fake answered with another state.")
        try:
            conn = services.connection_connect(
                company=company, provider_code="qbo", code=back["code"], params=back, redirect_uri=redirect_uri, actor=None
            )
            services.accounts_pull(connection=conn, actor=None)
        except IntegrationError as exc:
            raise CommandError(exc.message) from None
        rows = selectors.mapping_rows(conn)
        services.mappings_save(
            connection=conn,
            choices={r.account.pk: r.suggestion.pk for r in rows if r.mapped_to is None and r.suggestion is not None},
            actor=None,
        )
        unmapped = [r.account.code for r in selectors.mapping_rows(conn) if r.mapped_to is None]
        self.stdout.write(
            self.style.SUCCESS(f"Demo company connected to {conn.tenant_name}; unmapped accounts: {', '.join(unmapped)}.")
        )
