"""Serve a fake vendor (QuickBooks Online or Xero) in the foreground, for the demo (``make run``)
and for trying the connect flow by hand. State lives in memory: it is gone when this stops."""

import time

from django.core.management.base import BaseCommand

from integrations.fakes import FAKES

DEMO_REALM = "9130350000000001"


class Command(BaseCommand):
    help = "Run a fake accounting vendor on 127.0.0.1 (Ctrl-C stops it)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=sorted(FAKES), default="qbo")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--limits", choices=["on", "off"], default="on", help="enforce the vendor's documented quotas")
        parser.add_argument("--tenant", default=DEMO_REALM, help="realmId / tenantId (stable, so reconnecting repairs in place)")

    def handle(self, *args, provider, port, limits, tenant, **options):
        fake = FAKES[provider](limits=limits == "on", tenant_id=tenant).start(port=port)
        self.stdout.write(f"Fake {fake.vendor} on {fake.url} (tenant {fake.tenant_id}, limits {limits}).", ending="\n")
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()
