"""The vendors' published schemas kept in the repository (integrations/contracts/schemas, issue 22):
present and unchanged, loadable without /work/shared, and each one accepting the vendor's own documented
example and refusing a broken one. Every other integrations test checks its requests against them too."""

import hashlib
import json
import re
from decimal import Decimal

import pytest

from integrations import contracts

README = (contracts.SCHEMAS / "README.md").read_text()


def test_every_vendor_file_is_kept_unchanged_with_its_licence():
    listed = re.findall(r"^([0-9a-f]{64}) (\S+)$", README, re.M)
    assert len(listed) == 8
    for digest, name in listed:
        assert hashlib.sha256((contracts.SCHEMAS / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (contracts.SCHEMAS / "xero" / "LICENSE").read_text()
    for vendor in ("qbo", "intacct"):
        assert "Apache License" in (contracts.SCHEMAS / vendor / "LICENSE-Apache-2.0.txt").read_text()
    for ours in (
        "qbd/qbxml13-subset.xsd",
        "qbd/qbwebconnector-subset.xsd",
        "intacct/glbatch-subset.xsd",
        "netsuite/netsuite-rest-subset.yaml",
    ):
        text = (contracts.SCHEMAS / ours).read_text()
        assert "closebooks" in text and ours.split("/")[1] in README, ours  # ours, with its sources cited


def test_xero_manual_journal_example_from_xeros_documentation():
    body = {
        "ManualJournals": [
            {
                "Narration": "sync 123",
                "Date": "2026-01-31",
                "Status": "POSTED",
                "LineAmountTypes": "NoTax",
                "JournalLines": [{"LineAmount": 100.0, "AccountCode": "400"}, {"LineAmount": -100.0, "AccountCode": "120"}],
            }
        ]
    }
    headers = {"xero-tenant-id": "t", "Content-Type": "application/json", "Idempotency-Key": "k"}
    contracts.check_http("PUT", "/api.xro/2.0/ManualJournals", {"summarizeErrors": "false"}, headers, json.dumps(body).encode())
    body["ManualJournals"][0]["Status"] = "SENT"
    with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
        contracts.check_http("PUT", "/api.xro/2.0/ManualJournals", {}, headers, json.dumps(body).encode())
    assert any("SENT" in v for v in found)
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation, match="xero-tenant-id"):
        contracts.check_http("GET", "/api.xro/2.0/Organisation", {}, {}, None)


def test_qbo_journal_entry_example_from_intuits_reference():
    body = {
        "TxnDate": "2026-01-31",
        "DocNumber": "JE-123",
        "PrivateNote": "sync 123",
        "CurrencyRef": {"value": "USD"},
        "Line": [
            {
                "Id": "0",
                "Description": "nov portion",
                "Amount": Decimal("100.0"),
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": "39", "name": "Opening Bal Equity"}},
            },
            {
                "Description": "nov portion",
                "Amount": Decimal("100.0"),
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": "44"}},
            },
        ],
    }
    xml = contracts.qbo_json_to_xml("JournalEntry", body)
    # Written in the XSD's order (Transaction's DocNumber, TxnDate, CurrencyRef, PrivateNote), not the JSON's.
    assert [child.tag.split("}")[1] for child in xml][:4] == ["DocNumber", "TxnDate", "CurrencyRef", "PrivateNote"]
    contracts.check_qbo("POST", "journalentry", {"requestid": "x" * 50}, json.dumps(body, default=str).encode())
    with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
        contracts.check_qbo("POST", "journalentry", {"requestid": "x" * 51}, json.dumps(body, default=str).encode())
    assert any("at most 50" in v for v in found)
    body["Line"][0]["Amonut"] = 1
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation, match="Amonut"):
        contracts.check_qbo("POST", "journalentry", {}, json.dumps(body, default=str).encode())


INTACCT = b"""<request><control><senderid>S</senderid><password>P</password><controlid>req-uuid</controlid>
 <uniqueid>true</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control>
 <operation transaction="true"><authentication><sessionid>x</sessionid></authentication><content>
  <function controlid="je-123"><create><GLBATCH>
   <JOURNAL>GJ</JOURNAL><BATCH_DATE>01/31/2026</BATCH_DATE><BATCH_TITLE>sync 123</BATCH_TITLE>
   <REFERENCENO>123</REFERENCENO><STATE>Posted</STATE>
   <ENTRIES>
    <GLENTRY><ACCOUNTNO>6000</ACCOUNTNO><TR_TYPE>1</TR_TYPE><TRX_AMOUNT>100.00</TRX_AMOUNT>
     <LOCATION>100</LOCATION><DEPARTMENT>D1</DEPARTMENT><DESCRIPTION>debit</DESCRIPTION></GLENTRY>
    <GLENTRY><ACCOUNTNO>2000</ACCOUNTNO><TR_TYPE>-1</TR_TYPE><TRX_AMOUNT>100.00</TRX_AMOUNT><DESCRIPTION>credit</DESCRIPTION></GLENTRY>
   </ENTRIES></GLBATCH></create></function></content></operation></request>"""


def test_intacct_envelope_and_glbatch():
    contracts.check_intacct(INTACCT)
    for broken, why in (
        (INTACCT.replace(b"<senderid>S</senderid>", b""), "senderid"),
        (INTACCT.replace(b"<BATCH_DATE>01/31/2026</BATCH_DATE>", b"<BATCH_DATE>2026-01-31</BATCH_DATE>"), "BATCH_DATE"),
        (INTACCT.replace(b"<TR_TYPE>1</TR_TYPE>", b"<TR_TYPE>debit</TR_TYPE>"), "TR_TYPE"),
    ):
        with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
            contracts.check_intacct(broken)
        assert any(why in v for v in found), why


def test_netsuite_subset():
    headers = {"Prefer": "transient", "Content-Type": "application/json"}
    contracts.check_http(
        "POST", "/services/rest/query/v1/suiteql", {"limit": "1000", "offset": "0"}, headers, b'{"q": "SELECT id FROM account"}'
    )
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation, match="Prefer"):
        contracts.check_http("POST", "/services/rest/query/v1/suiteql", {}, {"Content-Type": "application/json"}, b'{"q": "x"}')
    record = {
        "trandate": "2026-01-31",
        "line": {"items": [{"account": {"id": "1"}, "debit": 1}, {"account": {"id": "2"}, "credit": 1}]},
    }
    contracts.check_http(
        "PUT",
        "/services/rest/record/v1/journalentry/eid:x",
        {"replace": "line"},
        {"Content-Type": "application/json"},
        json.dumps(record).encode(),
    )
    record["line"]["items"][0]["amount"] = 1
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation):
        contracts.check_http(
            "POST", "/services/rest/record/v1/journalentry", {}, {"Content-Type": "application/json"}, json.dumps(record).encode()
        )


def test_qbxml_and_web_connector_subsets():
    add = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        '<JournalEntryAddRq requestID="je-123"><JournalEntryAdd><TxnDate>2026-01-31</TxnDate><RefNumber>JE123</RefNumber>'
        "<Memo>sync 123</Memo><JournalDebitLine><AccountRef><FullName>Expenses</FullName></AccountRef><Amount>100.00</Amount>"
        "<Memo>d</Memo></JournalDebitLine><JournalCreditLine><AccountRef><ListID>80000006-1</ListID></AccountRef>"
        "<Amount>100.00</Amount></JournalCreditLine></JournalEntryAdd></JournalEntryAddRq></QBXMLMsgsRq></QBXML>"
    )
    contracts.check_qbxml(add)
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation, match="RefNumber"):
        contracts.check_qbxml(add.replace("JE123", "JE1234567890"))
    soap = (
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b'<soap:Body><authenticateResponse xmlns="http://developer.intuit.com/"><authenticateResult>'
        b"<string>ticket</string><string>none</string></authenticateResult></authenticateResponse></soap:Body></soap:Envelope>"
    )
    contracts.check_soap(soap, "authenticate answer")
    with contracts.expect_violations(), pytest.raises(contracts.ContractViolation):
        contracts.check_soap(soap.replace(b"authenticateResult>", b"authenticateResults>"), "authenticate answer")
