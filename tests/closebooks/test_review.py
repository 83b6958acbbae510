"""Close wizard: Home panel, Get started, and the Review step (PC2, PC3)."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from freezegun import freeze_time

from ledger import services
from ledger.models import Account, JournalLine, Role
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(company):
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    sales = AccountFactory(company=company, code="4000", type=Account.Type.REVENUE)
    fees = AccountFactory(company=company, code="6700", type=Account.Type.EXPENSE)

    def post(day, amount, memo="", source="manual", credit_amount=None, debit_account=cash, credit_account=sales):
        return services.journal_entry_create(
            company=company,
            entry_date=day,
            actor=None,
            memo=memo,
            source=source,
            lines=[
                services.LineInput(debit_account, debit=amount),
                services.LineInput(credit_account, credit=credit_amount or amount),
            ],
        )

    return {"cash": cash, "sales": sales, "fees": fees, "post": post}


@freeze_time("2026-04-10 12:00:00")
def test_home_shows_each_companys_periods_with_flags_and_get_started(client, company, member, books):
    books["post"](date(2026, 2, 3), "100.00")
    books["post"](date(2026, 3, 3), "10.00", source="import", credit_amount="9.00")
    client.force_login(member(company, Role.VIEWER))
    page = client.get(reverse("home")).content.decode()
    assert "Close your books" in page and "Get started" in page
    assert "March 2026" in page and "April 2026" in page
    response = client.get(reverse("close:overview", kwargs={"slug": company.slug}))
    rows = {row["period"].name: row["flagged"] for row in response.context["periods"]}
    assert rows == {"April 2026": 0, "March 2026": 1, "February 2026": 0}


@freeze_time("2026-04-10 12:00:00")
def test_home_fetches_the_failing_checks_of_the_next_period_to_close_after_it_is_shown_MR1(client, company, member, books):
    """Home lists the periods at once; the month-end checks (which sum the whole history) come from
    their own fragment, asked for the next period to close only, and link to its Review panel."""
    books["post"](date(2026, 3, 3), "100.00")  # revenue in the ledger with no invoice behind it: MR1 fails
    client.force_login(member(company, Role.VIEWER))
    page = client.get(reverse("home")).content.decode()
    march = reverse("close:failing_checks", kwargs={"slug": company.slug, "period": "2026-03"})
    april = reverse("close:failing_checks", kwargs={"slug": company.slug, "period": "2026-04"})
    assert f'data-fragment="{march}"' in page and april not in page
    fragment = client.get(march).content.decode()
    review = reverse("close:review", kwargs={"slug": company.slug, "period": "2026-03"})
    assert f'href="{review}#month-end-checks"' in fragment
    assert client.get(april).content.decode().strip() == "0"


@freeze_time("2026-04-10 12:00:00")
def test_get_started_offers_open_periods_and_refuses_others(client, company, member, books):
    books["post"](date(2026, 3, 3), "100.00")
    client.force_login(member(company, Role.MANAGER))
    url = reverse("close:start", kwargs={"slug": company.slug})
    page = client.get(url).content.decode()
    assert '<option value="2026-03">March 2026</option>' in page
    response = client.post(url, {"period": "2026-03"})
    assert response.status_code == 302 and response.url.endswith("/close/2026-03/review/")
    assert "Choose one of the open periods" in client.post(url, {"period": "2031-01"}).content.decode()


@freeze_time("2026-04-10 12:00:00")
def test_review_lists_the_periods_transactions_totals_trial_balance_and_flags_PC2(client, company, member, books):
    books["post"](date(2026, 3, 1), "100.00", memo="March sale")
    books["post"](date(2026, 3, 31), "50.00", memo="Fee", debit_account=books["fees"], credit_account=books["cash"])
    flagged = books["post"](date(2026, 3, 15), "10.00", memo="Bad import", source="import", credit_amount="9.00")
    books["post"](date(2026, 4, 1), "999.00", memo="April sale")
    # a line loaded behind the posting service's back still flags its entry
    hidden = books["post"](date(2026, 3, 20), "5.00", memo="Bulk loaded")
    JournalLine.objects.create(
        entry=hidden,
        company=company,
        entry_date=hidden.entry_date,
        account=books["fees"],
        debit=Decimal("1.00"),
        currency="USD",
        line_no=3,
    )
    client.force_login(member(company, Role.VIEWER))
    url = reverse("close:review", kwargs={"slug": company.slug, "period": "2026-03"})
    response = client.get(url)
    assert response.status_code == 200
    memos = {e.memo for e in response.context["page"]}
    assert memos == {"March sale", "Fee", "Bad import", "Bulk loaded"}
    assert response.context["page"].paginator.count == 4  # from the kept entries per day
    # the line triggers keep the stored flags equal to the lines: the hidden line flags its entry at once
    assert {e.pk for e in response.context["flagged"]} == {flagged.pk, hidden.pk}
    lock_page = client.get(reverse("close:lock", kwargs={"slug": company.slug, "period": "2026-03"})).content.decode()
    assert "2 unbalanced journal entries must be fixed" in lock_page
    from closebooks.selectors import period_get
    from closebooks.services import period_flags_refresh

    assert period_flags_refresh(period=period_get(company, "2026-03")) == 2
    response = client.get(url)
    assert {e.pk for e in response.context["flagged"]} == {flagged.pk, hidden.pk}
    tb = {r.account.code: (r.debit, r.credit) for r in response.context["trial_balance"]}
    assert tb["1000"] == (Decimal("115.00"), Decimal("50.00"))
    assert tb["6700"] == (Decimal("51.00"), Decimal("0"))
    types = {t["type"]: t["net"] for t in response.context["type_totals"]}
    assert types["Revenue"] == Decimal("-114.00") and types["Expense"] == Decimal("51.00")
    only_flagged = client.get(url, {"flagged": "true"})
    assert {e.memo for e in only_flagged.context["page"]} == {"Bad import", "Bulk loaded"}
    assert only_flagged.context["page"].paginator.count == 2
    assert client.get(url, {"page": "1"}).context["page"].paginator.count == 4
    by_type = client.get(url, {"account_type": "expense"})
    assert {e.memo for e in by_type.context["page"]} == {"Fee", "Bulk loaded"}


@freeze_time("2026-04-10 12:00:00")
def test_review_of_a_period_that_does_not_exist_is_404(client, company, other_company, member, books):
    books["post"](date(2026, 3, 1), "100.00")
    client.force_login(member(company, Role.ADMINISTRATOR))
    for key in ["2026-13", "garbage", "2030-01"]:
        assert client.get(reverse("close:review", kwargs={"slug": company.slug, "period": key})).status_code == 404
    assert client.get(reverse("close:review", kwargs={"slug": other_company.slug, "period": "2026-03"})).status_code == 404
    assert client.get(reverse("close:overview", kwargs={"slug": other_company.slug})).status_code == 404


@freeze_time("2026-04-10 03:00:00")
def test_the_current_period_follows_the_company_time_zone_PC1(client, company, member):
    company.time_zone = "America/Los_Angeles"  # 03:00 UTC on April 10 is April 9 there; still April
    company.save()
    client.force_login(member(company, Role.VIEWER))
    freeze = "2026-04-01 03:00:00"  # 03:00 UTC on April 1 is March 31 in Los Angeles
    with freeze_time(freeze):
        periods = client.get(reverse("close:overview", kwargs={"slug": company.slug})).context["periods"]
    assert periods[0]["period"].name == "March 2026"
