"""Pages: tenant isolation (404 for another company's objects on every URL), roles, the entry form."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import URLPattern, reverse

from ledger import urls as ledger_urls
from ledger.models import Account, JournalEntry, Role
from tests.factories import AccountFactory, JournalEntryFactory, UserFactory

pytestmark = pytest.mark.django_db


def company_routes():
    """Every URL pattern under /c/<slug>/, so a new page cannot escape the isolation test."""
    return [p for p in ledger_urls.urlpatterns if isinstance(p, URLPattern)]


def kwargs_for(pattern, company, entry, account):
    kwargs = {"slug": company.slug}
    if "<int:pk>" in str(pattern.pattern):
        kwargs["pk"] = account.pk if "account" in pattern.name else entry.pk
    return kwargs


@pytest.fixture
def world(company, other_company, member):
    admin = member(company, Role.ADMINISTRATOR)
    foreign_entry = JournalEntryFactory(company=other_company)
    foreign_account = AccountFactory(company=other_company)
    own_entry = JournalEntryFactory(company=company)
    own_account = AccountFactory(company=company)
    return {
        "admin": admin,
        "foreign_entry": foreign_entry,
        "foreign_account": foreign_account,
        "own_entry": own_entry,
        "own_account": own_account,
    }


@pytest.mark.parametrize("pattern", company_routes(), ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_companys_urls_answer_404(client, company, other_company, world, pattern, method):
    client.force_login(world["admin"])  # an administrator, but of `company` only
    foreign = reverse(
        f"ledger:{pattern.name}", kwargs=kwargs_for(pattern, other_company, world["foreign_entry"], world["foreign_account"])
    )
    response = getattr(client, method)(foreign)
    assert response.status_code in (404, 405)
    if response.status_code == 405:
        assert method == "get" or method == "post"  # a method the page does not take at all
    if "pk" in str(pattern.pattern):
        # own company's slug, other company's object: still 404
        mixed = reverse(
            f"ledger:{pattern.name}", kwargs=kwargs_for(pattern, company, world["foreign_entry"], world["foreign_account"])
        )
        assert getattr(client, method)(mixed).status_code in (404, 405)


def test_foreign_urls_never_leak_a_200(client, other_company, world):
    client.force_login(world["admin"])
    for pattern in company_routes():
        url = reverse(
            f"ledger:{pattern.name}", kwargs=kwargs_for(pattern, other_company, world["foreign_entry"], world["foreign_account"])
        )
        # POST-only pages answer a GET with 405 before looking anything up: nothing leaks either way.
        assert client.get(url).status_code in (404, 405)


def test_anonymous_visitors_are_sent_to_login(client, company):
    response = client.get(reverse("ledger:journal", kwargs={"slug": company.slug}))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_home_lists_only_the_users_companies(client, company, other_company, member):
    user = member(company, Role.VIEWER)
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert company.name in page and other_company.name not in page


@pytest.mark.parametrize(
    ("role", "new_entry", "new_account", "members"),
    [
        (Role.VIEWER, 403, 403, 403),
        (Role.ACCOUNTANT, 200, 403, 403),
        (Role.MANAGER, 200, 200, 403),
        (Role.ADMINISTRATOR, 200, 200, 200),
    ],
)
def test_pages_answer_by_role(client, company, member, role, new_entry, new_account, members):
    client.force_login(member(company, role))
    slug = {"slug": company.slug}
    assert client.get(reverse("ledger:journal", kwargs=slug)).status_code == 200
    assert client.get(reverse("ledger:accounts", kwargs=slug)).status_code == 200
    assert client.get(reverse("ledger:journal_entry_new", kwargs=slug)).status_code == new_entry
    assert client.get(reverse("ledger:account_new", kwargs=slug)).status_code == new_account
    assert client.get(reverse("ledger:members", kwargs=slug)).status_code == members


def test_viewer_cannot_post_an_entry(client, company, member):
    client.force_login(member(company, Role.VIEWER))
    response = client.post(reverse("ledger:journal_entry_new", kwargs={"slug": company.slug}), {})
    assert response.status_code == 403 and not JournalEntry.objects.exists()


def entry_form(lines, entry_date="2026-03-10", memo="Office chairs"):
    data = {
        "entry_date": entry_date,
        "memo": memo,
        "reference": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "500",
    }
    for i, (account, debit, credit) in enumerate(lines):
        data.update(
            {
                f"lines-{i}-account": account,
                f"lines-{i}-debit": debit,
                f"lines-{i}-credit": credit,
                f"lines-{i}-description": "",
                f"lines-{i}-currency": "",
            }
        )
    return data


@pytest.fixture
def two_accounts(company):
    return (
        AccountFactory(company=company, code="6210", type=Account.Type.EXPENSE),
        AccountFactory(company=company, code="2000", type=Account.Type.LIABILITY),
    )


def test_accountant_posts_a_balanced_entry_through_the_form(client, company, member, two_accounts):
    client.force_login(member(company, Role.ACCOUNTANT))
    a, b = two_accounts
    response = client.post(
        reverse("ledger:journal_entry_new", kwargs={"slug": company.slug}),
        entry_form([(a.pk, "250.00", ""), (b.pk, "", "250.00"), ("", "", "")]),
    )
    entry = JournalEntry.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/journal/{entry.pk}/")
    assert entry.lines.count() == 2 and entry.entry_date == date(2026, 3, 10)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("A", "250.00", ""), ("B", "", "249.99")], "does not balance"),
        ([("A", "12.345", ""), ("B", "", "12.35")], "more than two decimal places"),
        ([("A", "ten", ""), ("B", "", "10")], "is not a number"),
        ([("A", "10", ""), ("FOREIGN", "", "10")], "Choose an account of this company"),
        ([("A", "10", ""), ("999999", "", "10")], "Choose an account of this company"),
        ([("", "10", ""), ("B", "", "10")], "Choose an account for this line"),
        ([("", "", ""), ("", "", "")], "Enter at least two lines"),
    ],
)
def test_bad_entries_show_a_form_error_and_write_nothing(client, company, other_company, member, two_accounts, lines, message):
    client.force_login(member(company, Role.ACCOUNTANT))
    a, b = two_accounts
    foreign = AccountFactory(company=other_company)
    ids = {"A": a.pk, "B": b.pk, "FOREIGN": foreign.pk}
    form = entry_form([(ids.get(acc, acc), d, c) for acc, d, c in lines])
    response = client.post(reverse("ledger:journal_entry_new", kwargs={"slug": company.slug}), form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_blocked_account_error_is_shown_on_the_form_LR2(client, company, member, two_accounts):
    client.force_login(member(company, Role.ACCOUNTANT))
    a, b = two_accounts
    Account.objects.filter(pk=a.pk).update(blocked=True)
    response = client.post(
        reverse("ledger:journal_entry_new", kwargs={"slug": company.slug}), entry_form([(a.pk, "5.00", ""), (b.pk, "", "5.00")])
    )
    assert "blocked and accepts no new postings" in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_journal_filters_and_paginates(client, company, member):
    client.force_login(member(company, Role.VIEWER))
    cash = AccountFactory(company=company, code="1000")
    sales = AccountFactory(company=company, code="4000", type=Account.Type.REVENUE)
    from ledger import services

    for day in range(1, 61):
        services.journal_entry_create(
            company=company,
            entry_date=date(2026, 1, 1).replace(day=min(day, 28), month=1 + (day - 1) // 28),
            actor=None,
            memo=f"Sale {day}",
            lines=[services.LineInput(cash, debit=Decimal(day)), services.LineInput(sales, credit=Decimal(day))],
        )
    url = reverse("ledger:journal", kwargs={"slug": company.slug})
    page1 = client.get(url)
    assert page1.context["page"].paginator.count == 60 and len(page1.context["page"]) == 50
    filtered = client.get(url, {"amount_min": "55", "date_from": "2026-01-01"})
    assert sorted(e.memo for e in filtered.context["page"]) == [f"Sale {d}" for d in range(55, 61)]
    assert client.get(url, {"q": "Sale 7"}).context["page"].paginator.count == 1
    assert client.get(url, {"date_from": "not-a-date"}).status_code == 200


def test_members_page_adds_and_changes_roles(client, company, member):
    client.force_login(member(company, Role.ADMINISTRATOR))
    newcomer = UserFactory(username="newcomer")
    url = reverse("ledger:members", kwargs={"slug": company.slug})
    assert client.post(url, {"username": "newcomer", "role": "accountant"}).status_code == 302
    from ledger import roles

    assert newcomer.has_perm(roles.POST, company)
    response = client.post(url, {"username": "ghost", "role": "viewer"})
    assert "No user with that username" in response.content.decode()


def test_money_is_shown_with_two_places(client, company, member):
    client.force_login(member(company, Role.VIEWER))
    JournalEntryFactory(company=company, amount=Decimal("40898.5"))
    page = client.get(reverse("ledger:journal", kwargs={"slug": company.slug})).content.decode()
    assert "40,898.50" in page
