"""The API for the systems around the books (AP1; issue 20 item 4): the OpenAPI document, the
guard's own answer for a date, periods and close progress, posting through the posting service,
key scoping, expiry, the call log and rate limits, and bad input answered with a JSON 4xx."""

from datetime import date, timedelta

import pytest
from django.test import override_settings

from closebooks.api.models import ApiCall, ApiKey
from ledger.exceptions import BooksClosedError
from ledger.guard import Operation, books_closed_check
from ledger.models import AuditEvent, JournalEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

V1 = "/api/v1"


def test_the_openapi_document_is_served_and_valid_AP1(api):
    from openapi_spec_validator import validate

    response = api("get", f"{V1}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["info"]["version"] == "1"
    paths = document["paths"]
    assert set(paths) == {
        "/api/v1/companies/{slug}/books-closed",
        "/api/v1/companies/{slug}/books-closed/check",
        "/api/v1/companies/{slug}/periods",
        "/api/v1/companies/{slug}/close-progress",
        "/api/v1/companies/{slug}/journal-entries",
    }
    assert any(s.get("scheme") == "bearer" for s in document["components"]["securitySchemes"].values())
    check = paths["/api/v1/companies/{slug}/books-closed/check"]["get"]
    operation = next(p for p in check["parameters"] if p["name"] == "operation")
    assert "entry_create" in str(document) and operation["in"] == "query"
    assert api("get", f"{V1}/docs").status_code == 200


def test_the_date_check_is_the_guards_own_answer_AP1(company, api, key):
    read = key("read")
    for day, operation in [
        ("2026-03-31", "entry_create"),
        ("2026-04-01", "entry_create"),
        ("2026-03-15", "credit_apply"),
        ("2026-03-15", "document_edit"),
    ]:
        response = api("get", f"{V1}/companies/{company.slug}/books-closed/check?date={day}&operation={operation}", read)
        assert response.status_code == 200, response.content
        body = response.json()
        try:
            decision = books_closed_check(
                company=company, operation=Operation[operation.upper()], on_date=date.fromisoformat(day)
            )
        except BooksClosedError as exc:
            assert body["open"] is False and body["message"] == exc.message and body["closed_date"] == "2026-03-31"
        else:
            assert body["open"] is True and body["post_on"] == decision.post_on.isoformat()
    # applying a credit in the closed period is allowed, and posts on an open date (BC5)
    body = api("get", f"{V1}/companies/{company.slug}/books-closed/check?date=2026-03-15&operation=credit_apply", read).json()
    assert body["open"] is True and body["post_on"] == "2026-05-10"


def test_books_closed_periods_and_progress_AP1(company, api, key):
    read = key("read")
    body = api("get", f"{V1}/companies/{company.slug}/books-closed", read).json()
    assert body["enabled"] is True and body["closed_date"] == "2026-03-31" and body["source"] == "manual"
    periods = api("get", f"{V1}/companies/{company.slug}/periods", read).json()
    assert [p["period"] for p in periods] == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert {p["state"] for p in periods} == {"open"}
    progress = api("get", f"{V1}/companies/{company.slug}/close-progress?period=2026-03", read).json()
    assert progress["period"] == "2026-03" and progress["checklist"] is False and progress["tasks_total"] == 0
    assert api("get", f"{V1}/companies/{company.slug}/close-progress?period=1999-01", read).status_code == 404


def test_posting_goes_through_the_posting_service_under_the_guard_AP1(company, api, key):
    post = key("post")
    entry = {
        "entry_date": "2026-04-10",
        "memo": "Payroll April",
        "reference": "PAY-04",
        "lines": [{"account": "1000", "debit": "1200.00"}, {"account": "4000", "credit": "1200.00"}],
    }
    response = api("post", f"{V1}/companies/{company.slug}/journal-entries", post, json=entry)
    assert response.status_code == 201, response.content
    created = JournalEntry.objects.get(pk=response.json()["id"])
    assert created.reference == "PAY-04" and created.lines.count() == 2
    assert AuditEvent.objects.filter(action="journal_entry.create", subject_id=str(created.pk)).exists()
    assert AuditEvent.objects.get(action="api.journal_entry_post").after["key_name"] == "post key"
    # into the closed period: the guard's refusal, nothing written
    closed = api("post", f"{V1}/companies/{company.slug}/journal-entries", post, json={**entry, "entry_date": "2026-03-10"})
    assert closed.status_code == 409
    assert closed.json()["error"] == "books_closed" and "closed through 2026-03-31" in closed.json()["message"]
    # a posting the service refuses: unbalanced, unknown account, three decimals
    for lines, message in [
        ([{"account": "1000", "debit": "10.00"}, {"account": "4000", "credit": "9.00"}], "does not balance"),
        ([{"account": "9999", "debit": "10.00"}, {"account": "4000", "credit": "10.00"}], "no account with code 9999"),
        ([{"account": "1000", "debit": "10.001"}, {"account": "4000", "credit": "10.001"}], "more than two decimal places"),
    ]:
        refused = api("post", f"{V1}/companies/{company.slug}/journal-entries", post, json={**entry, "lines": lines})
        assert refused.status_code == 422 and message in refused.json()["message"], refused.content
    assert JournalEntry.objects.filter(company=company).count() == 2


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"entry_date": "2026-13-45", "lines": []}', "application/json"),
        ('{"entry_date": "2026-04-10"}', "application/json"),
        ('{"entry_date": "2026-04-10", "lines": [{"account": "1000", "debit": 10.5}]}', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("entry_date=2026-04-10", "application/x-www-form-urlencoded"),
    ],
)
def test_a_malformed_body_answers_a_json_4xx_never_a_500_AP1(company, api, key, body, content_type):
    from django.test import Client

    post = key("post")
    response = Client().post(
        f"{V1}/companies/{company.slug}/journal-entries",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {post}",
    )
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"] in ("invalid", "bad_request") and response.json()["message"]
    assert not JournalEntry.objects.filter(company=company, entry_date=date(2026, 4, 10)).exists()


def test_bad_query_values_answer_422(company, api, key):
    read = key("read")
    for query in ("date=2026-02-30", "date=yesterday", "", "date=2026-04-01&operation=launch_rocket"):
        response = api("get", f"{V1}/companies/{company.slug}/books-closed/check?{query}", read)
        assert response.status_code == 422 and response.json()["error"] == "invalid", query


def test_keys_are_scoped_to_their_company_and_scope_AP1(company, other_company, api, key):
    read, post = key("read"), key("post")
    theirs = key("read", target=other_company)
    check = f"{V1}/companies/{company.slug}/books-closed/check?date=2026-04-01"
    assert api("get", check, read).status_code == 200
    # no key, a made-up key, a key in the wrong header form
    for bad in (None, "cbk_000000000000_nope", "not-a-key"):
        response = api("get", check, bad)
        assert response.status_code == 401 and response.json()["error"] in ("no_key", "invalid_key")
        assert response["WWW-Authenticate"].startswith("Bearer")
    # another company's key, and an unknown company: not found, alike
    assert api("get", check, theirs).status_code == 404
    unknown = api("get", f"{V1}/companies/no-such-company/books-closed", read)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    # a read key cannot post
    entry = {"entry_date": "2026-04-10", "lines": [{"account": "1000", "debit": "1.00"}, {"account": "4000", "credit": "1.00"}]}
    refused = api("post", f"{V1}/companies/{company.slug}/journal-entries", read, json=entry)
    assert refused.status_code == 403 and refused.json()["error"] == "scope"
    assert api("post", f"{V1}/companies/{company.slug}/journal-entries", post, json=entry).status_code == 201


def test_expired_and_revoked_keys_are_refused_AP1(company, api, key, books):
    from freezegun import freeze_time

    from closebooks.api import services

    soon = key("read", expires_in=timedelta(hours=1))
    check = f"{V1}/companies/{company.slug}/books-closed"
    assert api("get", check, soon).status_code == 200
    with freeze_time("2026-05-10 13:30:00"):
        expired = api("get", check, soon)
    assert expired.status_code == 401 and expired.json()["error"] == "key_expired"
    services.api_key_revoke(key=ApiKey.objects.get(name="read key"), actor=books["admin"])
    assert api("get", check, soon).json()["error"] == "key_revoked"


def test_keys_are_hashed_at_rest_and_shown_once(client, company, books):
    from django.urls import reverse

    client.force_login(books["admin"])
    response = client.post(reverse("api_settings:keys", kwargs={"slug": company.slug}), {"name": "Payroll", "scope": "post"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    plaintext = response.context["made"].plaintext
    stored = ApiKey.objects.get(name="Payroll")
    assert plaintext not in str(stored.__dict__) and stored.key_hash != plaintext and len(stored.key_hash) == 64
    assert plaintext.startswith(f"cbk_{stored.prefix}_")
    again = client.get(reverse("api_settings:keys", kwargs={"slug": company.slug}))
    assert plaintext not in again.content.decode() and f"cbk_{stored.prefix}_" in again.content.decode()
    assert AuditEvent.objects.get(action="api_key.create").after["scope"] == "post"
    # an expiry in the past is refused on the form
    refused = client.post(
        reverse("api_settings:keys", kwargs={"slug": company.slug}),
        {"name": "Old", "scope": "read", "expires_at": "2020-01-01 00:00"},
    )
    assert refused.status_code == 400 and refused.context["form"].errors["expires_at"]


def test_every_call_is_logged_AP1(company, api, key):
    read = key("read")
    api("get", f"{V1}/companies/{company.slug}/books-closed", read)
    api("get", f"{V1}/companies/{company.slug}/books-closed", "cbk_000000000000_wrong")
    logged = list(ApiCall.objects.order_by("id"))
    assert [(c.status, c.path) for c in logged] == [
        (200, f"{V1}/companies/{company.slug}/books-closed"),
        (401, f"{V1}/companies/{company.slug}/books-closed"),
    ]
    assert logged[0].key.name == "read key" and logged[0].company == company and logged[1].key is None


@override_settings(API_RATE_LIMIT=3, API_RATE_WINDOW=60, API_BAD_KEY_LIMIT=2)
def test_calls_are_rate_limited_per_key_and_bad_keys_per_address_AP1(company, api, key):
    from django.core.cache import cache

    cache.clear()
    read, other = key("read"), key("read")
    url = f"{V1}/companies/{company.slug}/books-closed"
    assert [api("get", url, read).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = api("get", url, read)
    assert limited.json()["error"] == "rate_limited" and int(limited["Retry-After"]) > 0
    assert api("get", url, other).status_code == 200  # per key
    assert [api("get", url, "cbk_000000000000_x").status_code for _ in range(3)] == [401, 401, 429]
    cache.clear()
