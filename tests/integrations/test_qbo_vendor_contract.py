"""QuickBooks Online as Intuit documents it (issue 22, items 13-15): every line kind of a document
posts, an AuthorizationFault or 6190 stops the run and asks for reconnecting, a 5010 stale object is
read again and retried once."""

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from integrations import contracts, services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import Connection, InboundRecord, SyncIssue, SyncRun
from integrations.providers.base import ConnectionBroken
from ledger.models import JournalLine
from tests.integrations.factories import connect_to_fake, post_entries
from tests.integrations.test_contract import client_for, entry


@pytest.fixture
def fake_qbo():
    with FakeQuickBooksOnline() as fake:
        yield fake


def lines_of(company, number):
    return sorted(
        (line.account.code, line.debit, line.credit)
        for line in JournalLine.objects.filter(entry__company=company, entry__reference__endswith=number)
    )


def test_item13_discount_and_group_lines_post_and_the_invoice_balances(db, company, fake_qbo):
    conn = connect_to_fake(company, fake_qbo)
    items = {i["IncomeAccountRef"]["value"]: i["Id"] for i in fake_qbo.tables["Item"]}
    sales = items[fake_qbo.account_id("4000")]
    fake_qbo._add(
        "Invoice",
        {
            "DocNumber": "INV-13",
            "TxnDate": "2026-03-10",
            "CustomerRef": {"value": "1", "name": "Acme"},
            "TotalAmt": Decimal("135.00"),
            "Line": [
                {
                    "Amount": Decimal("100.00"),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": sales}},
                },
                {
                    "Amount": Decimal("50.00"),
                    "DetailType": "GroupLineDetail",
                    "GroupLineDetail": {
                        "GroupItemRef": {"value": "77", "name": "Bundle"},
                        "Line": [
                            {
                                "Amount": Decimal("30.00"),
                                "DetailType": "SalesItemLineDetail",
                                "SalesItemLineDetail": {"ItemRef": {"value": sales}},
                            },
                            {
                                "Amount": Decimal("20.00"),
                                "DetailType": "SalesItemLineDetail",
                                "SalesItemLineDetail": {"ItemRef": {"value": sales}},
                            },
                        ],
                    },
                },
                {"Amount": Decimal("150.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
                {
                    "Amount": Decimal("15.00"),
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {
                        "PercentBased": True,
                        "DiscountPercent": 10,
                        "DiscountAccountRef": {"value": fake_qbo.account_id("6100")},
                    },
                },
            ],
        },
    )
    run = services.inbound_pull(connection=conn)
    assert (run.done, run.failed) == (1, 0)
    assert lines_of(company, "INV-13") == [
        ("1100", Decimal("135.00"), Decimal("0.00")),
        ("4000", Decimal("0.00"), Decimal("20.00")),
        ("4000", Decimal("0.00"), Decimal("30.00")),
        ("4000", Decimal("0.00"), Decimal("100.00")),
        ("6100", Decimal("15.00"), Decimal("0.00")),
    ]


def test_item13_item_based_bill_lines_post_to_the_items_expense_account(db, company, fake_qbo):
    conn = connect_to_fake(company, fake_qbo)
    fake_qbo.tables["Item"].append(
        {"Id": "501", "Name": "Paper", "Type": "NonInventory", "ExpenseAccountRef": {"value": fake_qbo.account_id("6100")}}
    )
    fake_qbo._add(
        "Bill",
        {
            "DocNumber": "B-13",
            "TxnDate": "2026-03-11",
            "VendorRef": {"value": "1", "name": "Paper Co"},
            "TotalAmt": Decimal("70.00"),
            "Line": [
                {
                    "Amount": Decimal("40.00"),
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "501"}},
                },
                {
                    "Amount": Decimal("30.00"),
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": fake_qbo.account_id("6100")}},
                },
            ],
        },
    )
    run = services.inbound_pull(connection=conn)
    assert (run.done, run.failed) == (1, 0)
    assert lines_of(company, "B-13") == [
        ("2000", Decimal("0.00"), Decimal("70.00")),
        ("6100", Decimal("30.00"), Decimal("0.00")),
        ("6100", Decimal("40.00"), Decimal("0.00")),
    ]


def test_bad_input_a_document_with_an_unknown_line_kind_is_refused_alone(db, company, fake_qbo):
    """Issue 22, bad input: an unknown DetailType (a new one Intuit adds) refuses that document only."""
    conn = connect_to_fake(company, fake_qbo)
    fake_qbo.add_bill(number="B-OK", txn_date=date(2026, 3, 1), vendor="V", lines=[("6100", Decimal("5.00"))])
    fake_qbo._add(
        "Bill",
        {
            "DocNumber": "B-NEW",
            "TxnDate": "2026-03-01",
            "TotalAmt": Decimal("5.00"),
            "Line": [{"Amount": Decimal("5.00"), "DetailType": "HologramLineDetail"}],
        },
    )
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 1, 1)
    issue = SyncIssue.objects.get(run=run)
    assert "B-NEW" in issue.message and "HologramLineDetail" in issue.message
    assert InboundRecord.objects.get(number="B-NEW").state == InboundRecord.State.REJECTED


@pytest.mark.parametrize(
    "fault_body",
    [
        {
            "Error": [
                {"Message": "Authorization Failure", "Detail": "AuthorizationFailure: the user has no access", "code": "003100"}
            ],
            "type": "AuthorizationFault",
        },
        {
            "Error": [
                {"Message": "Invalid Company Status", "Detail": "The company's subscription has been cancelled", "code": "6190"}
            ],
            "type": "ValidationFault",
        },
    ],
    ids=["AuthorizationFault", "6190"],
)
def test_item14_authorization_fault_and_6190_break_the_connection_not_each_entry(db, company, fake_qbo, fault_body):
    conn = connect_to_fake(company, fake_qbo)
    post_entries(company, 3)
    fake_qbo.inject("/batch", 400, {"Fault": fault_body, "time": "2026-03-01T00:00:00Z"}, times=5)
    run = services.sync_run_execute(
        run_id=services.sync_run_start(company=company, actor=None, enqueue=False).pk, sleep=lambda s: None
    )
    assert run.status == SyncRun.Status.FAILED and "Reconnect" in run.error
    assert Connection.objects.get(pk=conn.pk).status == Connection.Status.BROKEN
    assert not SyncIssue.objects.filter(run=run).exists()  # no per-entry rejections
    assert len(fake_qbo.received("POST", "/batch")) == 1  # stopped at the first answer


def test_item14_inside_a_batch_item_too(fake_qbo):
    client = client_for(fake_qbo)
    entries = [entry(client, 1), entry(client, 2)]
    fake_qbo.inject(
        "/batch",
        200,
        {
            "BatchItemResponse": [
                {
                    "bId": "1",
                    "Fault": {"Error": [{"Message": "Invalid Company Status", "code": "6190"}], "type": "ValidationFault"},
                }
            ]
        },
    )
    with pytest.raises(ConnectionBroken, match="6190"):
        client.push_entries(entries, key="k14")


def test_item15_a_stale_synctoken_is_read_again_and_the_update_retried_once(fake_qbo):
    client = client_for(fake_qbo)
    [created] = client.push_entries([entry(client, 5)], key="a")
    fake_qbo.edit_in_quickbooks(created.external_id)  # SyncToken 0 -> 1 in QuickBooks
    changed = dataclasses.replace(entry(client, 5, amount="120.00"), external_id=created.external_id, external_version="0")
    [updated] = client.push_entries([changed], key="b")
    assert updated.error is None and updated.external_version == "2"
    assert fake_qbo.journals[created.external_id]["Line"][0]["Amount"] == Decimal("120.00")
    assert fake_qbo.received("GET", f"/journalentry/{created.external_id}")  # the current SyncToken was read


def test_item15_in_a_batch_only_the_stale_one_is_retried(fake_qbo):
    client = client_for(fake_qbo)
    first, second = client.push_entries([entry(client, 5), entry(client, 6)], key="a")
    fake_qbo.edit_in_quickbooks(first.external_id)
    changed = [
        dataclasses.replace(entry(client, 5, amount="120.00"), external_id=first.external_id, external_version="0"),
        dataclasses.replace(entry(client, 6, amount="130.00"), external_id=second.external_id, external_version="0"),
    ]
    outcomes = client.push_entries(changed, key="b")
    assert [o.error for o in outcomes] == [None, None]
    assert len(fake_qbo.received("GET", "/journalentry/")) == 1


def test_qbo_bodies_are_checked_against_intuits_xsd():
    """The JSON body is written as the XML Finance.xsd describes: a field the XSD does not know fails."""
    good = {
        "TxnDate": "2026-01-31",
        "Line": [
            {
                "Amount": Decimal("1.00"),
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": "1"}},
            }
        ],
    }
    contracts.check_qbo("POST", "journalentry", {}, contracts.json.dumps(good, default=str).encode())
    bad = {
        **good,
        "Line": [{**good["Line"][0], "JournalEntryLineDetail": {"PostingType": "Sideways", "AccountRef": {"value": "1"}}}],
    }
    with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
        contracts.check_qbo("POST", "journalentry", {}, contracts.json.dumps(bad, default=str).encode())
    assert any("PostingType" in v or "Sideways" in v for v in found)
