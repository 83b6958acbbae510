"""Webhooks (AP2; issue 20 item 4): what they announce, HMAC signatures, retries with backoff,
every delivery logged, and URLs outside http(s) or at private addresses in production refused."""

import hashlib
import hmac
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
from django.test import override_settings

from closebooks.api import services
from closebooks.api.exceptions import WebhookUrlError
from closebooks.api.models import WebhookDelivery, WebhookEndpoint
from closebooks.api.tasks import WEBHOOK_MAX_RETRIES, deliver_webhook
from ledger import services as ledger_services
from tests.closebooks.checklist.conftest import eager_tasks

pytestmark = [pytest.mark.django_db]

__all__ = ["eager_tasks"]


class Receiver:
    """A subscriber on this machine: answers the statuses it is given, in turn, and keeps what it got."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.received = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/closebooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(statuses=()):
        r = Receiver(statuses)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _subscribe(company, url, events=("books_closed.moved", "period.locked", "period.closed", "sync_run.finished")):
    return services.webhook_create(company=company, actor=None, url=url, events=list(events))


def test_a_moved_books_closed_date_is_delivered_signed_AP2(company, receiver, eager_tasks, django_capture_on_commit_callbacks):
    r = receiver()
    made = _subscribe(company, r.url)
    with django_capture_on_commit_callbacks(execute=True):
        # the ledger's signal after commit records the delivery, which is sent after its own commit
        ledger_services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 3, 31))
    ((headers, body),) = r.received
    payload = json.loads(body)
    assert payload["event"] == "books_closed.moved" and payload["company"] == company.slug
    assert payload["data"]["closed_date"] == "2026-03-31" and payload["data"]["before"] is None
    assert headers["X-Closebooks-Event"] == "books_closed.moved" and headers["X-Closebooks-Delivery"] == payload["id"]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["X-Closebooks-Signature"].split(","))
    expected = hmac.new(made.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.log[0]["status"] == 200


def test_a_failed_delivery_is_retried_with_backoff_and_every_try_logged_AP2(company, receiver, eager_tasks):
    r = receiver(statuses=[500, 503, 200])
    _subscribe(company, r.url)
    countdowns = []
    task_class = type(deliver_webhook._get_current_object())
    original = task_class.retry

    def spy(self, *args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original(self, *args, **kwargs)

    (delivery,) = services.webhook_emit(company_id=company.pk, event="period.locked", data={"period": "2026-03"})
    with mock.patch.object(task_class, "retry", spy):
        deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert [entry["status"] for entry in delivery.log] == [500, 503, 200]
    assert countdowns == [30, 60]  # growing pauses
    assert len(r.received) == 3 and len({json.loads(b)["id"] for _, b in r.received}) == 1  # the same event each time


def test_a_subscriber_that_never_answers_ends_failed_after_the_last_try_AP2(company, receiver, eager_tasks):
    r = receiver(statuses=[500] * 20)
    _subscribe(company, r.url, events=["sync_run.finished"])
    (delivery,) = services.webhook_emit(company_id=company.pk, event="sync_run.finished", data={"run": 1})
    deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == WEBHOOK_MAX_RETRIES + 1
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    # an administrator sends it again
    r.statuses[:] = []
    services.webhook_redeliver(delivery=delivery, actor=None)
    deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_only_the_events_chosen_are_sent(company, receiver):
    r = receiver()
    _subscribe(company, r.url, events=["period.closed"])
    assert services.webhook_emit(company_id=company.pk, event="period.locked", data={}) == []
    assert len(services.webhook_emit(company_id=company.pk, event="period.closed", data={})) == 1


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://x",
        "https://",
        "https://user:pw@example.com/",
    ],
)
def test_a_url_outside_http_s_is_refused(company, url):
    with pytest.raises(WebhookUrlError):
        _subscribe(company, url)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_loopback_and_private_addresses_are_refused_in_production(company, url):
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        with pytest.raises(WebhookUrlError, match="public addresses|cannot be found"):
            _subscribe(company, url)
    assert not WebhookEndpoint.objects.exists()


def test_a_name_that_later_points_at_a_private_address_is_not_delivered(company, receiver, eager_tasks):
    r = receiver()
    _subscribe(company, r.url, events=["period.locked"])
    (delivery,) = services.webhook_emit(company_id=company.pk, event="period.locked", data={})
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert r.received == [] and delivery.status == "failed" and "public addresses" in delivery.last_error


def test_the_webhook_page_refuses_a_bad_url_on_the_form(client, company, member):
    from django.urls import reverse

    from ledger.models import Role

    client.force_login(member(company, Role.ADMINISTRATOR))
    response = client.post(
        reverse("api_settings:webhooks", kwargs={"slug": company.slug}), {"url": "ftp://example.com", "events": ["period.locked"]}
    )
    assert response.status_code == 400 and response.context["form"].errors["url"]
    made = client.post(
        reverse("api_settings:webhooks", kwargs={"slug": company.slug}),
        {"url": "https://books-hooks.example.com/in", "events": ["period.locked"]},
    )
    assert made.status_code == 200 and made.context["made"].secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    assert str(endpoint.secret) == made.context["made"].secret
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM closebooks_api_webhookendpoint WHERE id = %s", [endpoint.pk])
        assert made.context["made"].secret not in cursor.fetchone()[0]  # encrypted at rest


def test_a_finished_sync_run_and_a_locked_period_are_announced_AP2(
    company, receiver, eager_tasks, django_capture_on_commit_callbacks, connected
):
    from integrations import services as integration_services
    from integrations.models import SyncRun

    r = receiver()
    _subscribe(company, r.url)
    run = SyncRun.objects.create(company=company, connection=connected, status=SyncRun.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        integration_services.sync_run_fail(run_id=run.pk, error="vendor down")
    ((_, body),) = r.received
    assert json.loads(body)["event"] == "sync_run.finished"
    assert json.loads(body)["data"] | {"run": run.pk, "status": "failed", "error": "vendor down"} == json.loads(body)["data"]
