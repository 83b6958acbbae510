"""The month-end pages: checks with acceptance, reports with filters and CSV, drill-downs, charts;
bad input answers clearly (400 with the reason, or 404), never 500."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from closebooks.month_end.models import CheckAcceptance
from closebooks.month_end.reports import REPORTS
from ledger.models import AuditEvent, Role
from tests.factories import member

from .books import Books, month_of_ar

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(company):
    return Books(company)


def url(company, name, *args):
    return reverse(f"month_end:{name}", args=[company.slug, *args])


def test_month_end_page_shows_the_six_checks_and_the_charts(client, books):
    month_of_ar(books)
    client.force_login(books.user)
    response = client.get(url(books.company, "index"), {"month": books.period.key})
    assert response.status_code == 200
    html = response.content.decode()
    for rule in ("MR1", "MR2", "MR3", "MR4", "MR5", "MR6"):
        assert f'id="check-{rule}"' in html
    assert "6 of 6" in html
    assert 'class="chart ar-aging"' in html and 'class="chart revenue"' in html
    assert "Taxes Charged + GL Revenue = Invoices Total" in html


def test_failing_check_shows_causes_drill_down_and_accept_form(client, books):
    month_of_ar(books)
    books.entry(books.p(20), books.suspense, books.revenue, "250.00", memo="Grant received")
    client.force_login(books.user)
    html = client.get(url(books.company, "index"), {"month": books.period.key}).content.decode()
    assert "5 of 6" in html
    assert "Revenue was recorded without an invoice" in html
    assert "Accept this difference" in html
    drill = client.get(url(books.company, "drill_down", "MR1"), {"first": books.period.first_day, "last": books.period.last_day})
    assert drill.status_code == 200
    assert "Grant received" in drill.content.decode()


def test_an_administrator_accepts_a_failing_check_with_a_reason_audited(client, books):
    month_of_ar(books)
    books.entry(books.p(20), books.suspense, books.revenue, "250.00")
    client.force_login(books.user)
    period = books.period
    target = url(books.company, "accept", "MR1")
    refused = client.post(target, {"MR1-first": period.first_day, "MR1-last": period.last_day, "MR1-reason": ""})
    assert refused.status_code == 400 and not CheckAcceptance.objects.exists()
    response = client.post(target, {"MR1-first": period.first_day, "MR1-last": period.last_day, "MR1-reason": "Grant income"})
    assert response.status_code == 302
    acceptance = CheckAcceptance.objects.get()
    assert acceptance.difference == Decimal("250.00") and acceptance.accepted_by == books.user
    event = AuditEvent.objects.get(action="month_end.check_accept")
    assert event.reason == "Grant income" and event.after["difference"] == "250.00"
    html = client.get(response["Location"]).content.decode()
    assert "(accepted)" in html and "Grant income" in html


def test_accepting_a_passing_check_is_refused(client, books):
    month_of_ar(books)
    client.force_login(books.user)
    period = books.period
    response = client.post(
        url(books.company, "accept", "MR2"), {"MR2-first": period.first_day, "MR2-last": period.last_day, "MR2-reason": "x"}
    )
    assert response.status_code == 400 and "passes; there is nothing to accept" in response.content.decode()


def test_only_an_administrator_may_accept(client, books):
    books.entry(books.p(20), books.suspense, books.revenue, "5.00")
    manager = member(books.company, Role.MANAGER)
    client.force_login(manager)
    period = books.period
    data = {"MR1-first": period.first_day, "MR1-last": period.last_day, "MR1-reason": "ok"}
    assert client.post(url(books.company, "accept", "MR1"), data).status_code == 403
    assert client.get(url(books.company, "accept", "MR1")).status_code == 405
    html = client.get(url(books.company, "index"), {"month": period.key}).content.decode()
    assert "Accept this difference" not in html and "blocks locking" in html


def test_a_company_the_user_has_no_role_in_is_404(client, books, other_company):
    outsider = member(other_company, Role.ADMINISTRATOR)
    client.force_login(outsider)
    assert client.get(url(books.company, "index")).status_code == 404
    assert client.get(url(books.company, "report", "ar-aging")).status_code == 404
    assert client.get(url(books.company, "drill_down", "MR1")).status_code == 404
    assert client.post(url(books.company, "accept", "MR1"), {}).status_code == 404


@pytest.mark.parametrize("key", sorted(REPORTS))
def test_every_report_renders_and_exports_csv(client, books, key):
    month_of_ar(books)
    client.force_login(books.user)
    period = books.period
    params = {"as_of": period.last_day} if REPORTS[key].mode == "as_of" else {"month": period.key}
    response = client.get(url(books.company, "report", key), params)
    assert response.status_code == 200, response.content.decode()[:500]
    exported = client.get(url(books.company, "report", key), {**params, "format": "csv"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0] == [c.label for c in response.context["report"].columns]


def test_empty_period_reports_say_so(client, books):
    client.force_login(books.user)
    response = client.get(url(books.company, "report", "invoices"), {"month": books.period.key})
    assert response.status_code == 200 and "No rows" in response.content.decode()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"as_of": "2999-01-01"}, "is in the future"),
        ({"as_of": "not-a-date"}, "Enter a valid date"),
    ],
)
def test_bad_as_of_dates_answer_400_with_the_reason(client, books, params, message):
    client.force_login(books.user)
    response = client.get(url(books.company, "report", "ar-aging"), params)
    assert response.status_code == 400 and message in response.content.decode()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"month": "2999-01"}, "has not started yet"),
        ({"first": "2026-05-10"}, "both the first and the last day"),
        ({"first": "2026-05-10", "last": "2026-05-01"}, "ends before it starts"),
        ({"first": "0001-01-01", "last": "0001-01-01"}, "from 1900-01-01 on"),  # overflowed the calendar once
        ({"month": "0001-01"}, "from 1900-01-01 on"),
    ],
)
def test_bad_periods_answer_400_with_the_reason(client, books, params, message):
    client.force_login(books.user)
    for target in (url(books.company, "index"), url(books.company, "report", "invoices")):
        response = client.get(target, params)
        assert response.status_code == 400 and message in response.content.decode()


def test_unknown_report_or_check_is_404(client, books):
    client.force_login(books.user)
    assert client.get(url(books.company, "report", "nope")).status_code == 404
    assert client.get(url(books.company, "drill_down", "MR9")).status_code == 404


def test_ar_aging_is_point_in_time_a_later_void_keeps_the_earlier_aging(client, books):
    """MR6: an invoice voided later still counts at the date it was open."""
    invoice = books.invoice("Alder", books.p(1), "300.00", due=books.p(1))
    client.force_login(books.user)
    day = books.period.last_day
    report_url = url(books.company, "report", "ar-aging")
    before = dict(client.get(report_url, {"as_of": day}).context["report"].totals)
    books.void(invoice)
    after = dict(client.get(report_url, {"as_of": day}).context["report"].totals)
    assert before == after
    days_past_due = (day - books.p(1)).days
    bucket = "1–30" if days_past_due <= 30 else "31–60"
    assert after["AR total"] == after[bucket] == Decimal("300.00")
    today = dict(client.get(report_url, {"as_of": books.company.today()}).context["report"].totals)
    assert today["AR total"] == Decimal("0.00")


def test_transaction_report_filters_types_and_invoice_dates(client, books):
    month_of_ar(books)
    client.force_login(books.user)
    target = url(books.company, "report", "transactions")
    p = books.period
    cash = client.get(target, {"month": p.key, "exclude": ["customer_credit", "refund_as_credit", "refund"]})
    assert dict(cash.context["report"].totals)["Transaction report total"] == Decimal("2100.00")
    credits = client.get(target, {"month": p.key, "include": ["customer_credit", "refund_as_credit"]})
    assert dict(credits.context["report"].totals)["Transaction report total"] == Decimal("80.00")
    deposits = client.get(target, {"txn_to": p.first_day - timedelta(days=1), "inv_from": p.first_day, "inv_to": p.last_day})
    assert dict(deposits.context["report"].totals)["Transactions on invoices"] == Decimal("300.00")
    both = client.get(target, {"include": ["payment"], "exclude": ["payment"]})
    assert both.status_code == 400


def test_accept_returns_to_a_safe_next_url_only(client, books):
    books.entry(books.p(20), books.suspense, books.revenue, "5.00")
    client.force_login(books.user)
    period = books.period
    data = {"MR1-first": period.first_day, "MR1-last": period.last_day, "MR1-reason": "Known", "next": "https://evil.example/"}
    response = client.post(url(books.company, "accept", "MR1"), data)
    assert response.status_code == 302 and response["Location"].startswith(url(books.company, "index"))
    books.entry(books.p(21), books.suspense, books.revenue, "1.00")
    data.update({"next": f"/c/{books.company.slug}/"})
    response = client.post(url(books.company, "accept", "MR1"), data)
    assert response["Location"] == f"/c/{books.company.slug}/"


def test_admin_lists_acceptances_read_only_for_the_companys_staff(client, books, other_company):
    from closebooks.month_end.services import check_acceptance_create

    books.entry(books.p(20), books.suspense, books.revenue, "5.00")
    check_acceptance_create(
        company=books.company,
        rule="MR1",
        first_day=books.period.first_day,
        last_day=books.period.last_day,
        reason="Known",
        actor=books.user,
    )
    staff = member(books.company, Role.ADMINISTRATOR, is_staff=True)
    outsider = member(other_company, Role.ADMINISTRATOR, is_staff=True)
    client.force_login(staff)
    changelist = reverse("admin:month_end_checkacceptance_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and page.context["cl"].result_count == 1
    assert client.get(reverse("admin:month_end_checkacceptance_add")).status_code == 403
    client.force_login(outsider)
    page = client.get(changelist)
    assert page.status_code == 200 and page.context["cl"].result_count == 0


def test_drill_down_and_reports_link_to_the_documents_behind_the_difference(client, books):
    """MR1 drill-down: the invoice without revenue is listed and links to its page."""
    month_of_ar(books)
    stray = books.invoice("Alder", books.p(20), "300.00", account=books.other_liability)
    client.force_login(books.user)
    period = books.period
    drill = client.get(url(books.company, "drill_down", "MR1"), {"first": period.first_day, "last": period.last_day})
    document_url = reverse("ledger:document", args=[books.company.slug, stray.pk])
    assert f'href="{document_url}"' in drill.content.decode()
    report = client.get(url(books.company, "report", "invoices"), {"month": period.key})
    assert f'href="{document_url}"' in report.content.decode()


def test_an_acceptance_without_a_reason_for_a_year_one_period_is_a_form_error_issue18_3(client, books):
    """A period starting 0001-01-01 (hidden fields edited) with no reason: the page says what is
    wrong and is drawn for a period the checks can compute, never HTTP 500; nothing is accepted."""
    client.force_login(books.user)
    period = books.period
    response = client.post(
        url(books.company, "accept", "MR1"), {"MR1-first": "0001-01-01", "MR1-last": period.last_day, "MR1-reason": ""}
    )
    assert response.status_code == 400 and not CheckAcceptance.objects.exists()
