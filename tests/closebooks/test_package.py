"""The close package of a locked or closed period: XLSX and CSV-in-ZIP (PC3)."""

import csv
import io
import zipfile
from datetime import date

import pytest
from django.urls import reverse
from freezegun import freeze_time

from closebooks.selectors import period_get
from closebooks.services import period_flags_refresh, period_lock
from ledger import services
from ledger.models import Account, Role
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(company, member, sync_period):
    admin = member(company, Role.ADMINISTRATOR, username="alice")
    cash = AccountFactory(company=company, code="1000", name="Cash", type=Account.Type.ASSET)
    sales = AccountFactory(company=company, code="3000", name="Equity", type=Account.Type.EQUITY)
    with freeze_time("2026-05-10 12:00:00"):
        services.journal_entry_create(
            company=company,
            entry_date=date(2026, 3, 5),
            actor=admin,
            memo='=HYPERLINK("x")',
            lines=[services.LineInput(cash, debit="1234.56"), services.LineInput(sales, credit="1234.56")],
        )
        bad = services.journal_entry_create(
            company=company,
            entry_date=date(2026, 3, 6),
            actor=None,
            source="import",
            memo="bank import",
            lines=[services.LineInput(cash, debit="10"), services.LineInput(sales, credit="9")],
        )
        services.journal_entry_update(
            entry=bad,
            entry_date=bad.entry_date,
            actor=admin,
            memo="bank import",
            lines=[services.LineInput(cash, debit="10"), services.LineInput(sales, credit="10")],
        )
        period_flags_refresh(period=period_get(company, "2026-03"))
        sync_period(period_get(company, "2026-03"))
        period_lock(period=period_get(company, "2026-03"), actor=admin)
    return admin


def url(company, fmt):
    return reverse("close:package", kwargs={"slug": company.slug, "period": "2026-03", "fmt": fmt})


def read_zip(response):
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return {name: list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8"))) for name in archive.namelist()}


def test_zip_package_holds_trial_balance_journal_flags_fixed_and_audit(client, company, member, locked):
    client.force_login(member(company, Role.VIEWER))
    with freeze_time("2026-05-10 12:00:00"):
        response = client.get(url(company, "zip"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"{company.slug}-close-2026-03.zip" in response["Content-Disposition"]
    files = read_zip(response)
    tb = files["2026-03-trial-balance.csv"]
    assert tb[0] == ["Account", "Name", "Type", "Debit", "Credit", "Balance"]
    assert ["1000", "Cash - Operating", "Asset", "1244.56", "0.00", "1244.56"] in tb
    journal = files["2026-03-journal.csv"]
    assert len(journal) == 1 + 4 and any(row[3] == '\'=HYPERLINK("x")' for row in journal[1:])  # no formula injection
    fixed = files["2026-03-flags-fixed.csv"]
    assert fixed[1][1:4] == ["alice", f"JE-{fixed[1][2][3:]}", "edited to balance"]
    audit = files["2026-03-audit-trail.csv"]
    assert any(row[2] == "period.lock" and row[1] == "alice" for row in audit[1:])


def test_xlsx_package_is_a_workbook_with_every_sheet(client, company, member, locked):
    client.force_login(member(company, Role.VIEWER))
    with freeze_time("2026-05-10 12:00:00"):
        response = client.get(url(company, "xlsx"))
    assert response.status_code == 200
    workbook = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    book = workbook.read("xl/workbook.xml").decode()
    for sheet in ["Period", "Trial balance", "Journal", "Flags fixed", "Audit trail"]:
        assert f'name="{sheet}"' in book
    strings = workbook.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in workbook.namelist() else ""
    sheets = "".join(workbook.read(n).decode() for n in workbook.namelist() if n.startswith("xl/worksheets/"))
    assert "Cash - Operating" in strings + sheets and "1234.56" in sheets


def test_open_periods_have_no_package_and_foreign_companies_get_404(client, company, other_company, member, locked):
    client.force_login(locked)
    with freeze_time("2026-05-10 12:00:00"):
        response = client.get(reverse("close:package", kwargs={"slug": company.slug, "period": "2026-04", "fmt": "zip"}))
        assert response.status_code == 302
        assert (
            client.get(
                reverse("close:package", kwargs={"slug": other_company.slug, "period": "2026-03", "fmt": "zip"})
            ).status_code
            == 404
        )
