"""A fake Sage Intacct XML gateway (integration-apis.md §3): sender credentials in ``<control>``,
``getAPISession`` from a user login, ``readByQuery``/``readMore`` paging (GLACCOUNT, LOCATIONENTITY, and
GLBATCH/GLENTRY with the query clauses the inbound pull uses), ``create`` of ``GLBATCH``
(TR_TYPE 1/-1, positive amounts, m/d/Y dates, balanced, at least two lines) and ``delete``,
``uniqueid=true`` refusing a function whose controlid it has already executed, ``transaction="true"``
rolling the whole operation back, entities (locations) each closed
through its own date with Intacct's "Periods are closed" text, and every error in an HTTP 200 body."""

from __future__ import annotations

import re
import secrets
import time
import xml.etree.ElementTree as ET  # noqa: S405 - builds answers; requests are parsed with defusedxml
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET

from integrations import contracts

from .chart import default_chart
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeVendor, Request, Response

TYPES = {"asset": "balancesheet", "liability": "balancesheet", "equity": "balancesheet", "income": "incomestatement"}
USER_ID, USER_PASSWORD = "ws_closebooks", "ws-password"  # noqa: S105 - the fake's own user
CLOSED = (
    "Periods are closed. Your transaction date ({when}) is within a period that's been closed. You can add, "
    "modify, or delete a transaction only if the date of the transaction is within a period that's open."
)


def _error(number: str, description: str, description2: str = "") -> ET.Element:
    message = ET.Element("errormessage")
    error = ET.SubElement(message, "error")
    ET.SubElement(error, "errorno").text = number
    ET.SubElement(error, "description").text = description
    ET.SubElement(error, "description2").text = description2
    ET.SubElement(error, "correction").text = ""
    return message


class FakeSageIntacct(FakeVendor):
    vendor = "intacct"
    quotas: dict[str, int] = {}
    page_max = 1000

    def __init__(self, *, sender_id=DEFAULT_CLIENT_ID, sender_password=DEFAULT_CLIENT_SECRET, **kwargs):
        super().__init__(client_id=sender_id, client_secret=sender_password, **kwargs)
        self.chart = default_chart()
        self.entities: dict[str, str] = {"100": "East entity", "200": "West entity"}
        self.closed_through: dict[str, date] = {}  # entity id ("" = top level) -> books closed through
        self.sessions: dict[str, float] = {}
        self.batches: dict[str, dict] = {}
        self.session_endpoint = ""  # the <endpoint> getAPISession answers ("": this fake's own gateway)
        self.executed: set[str] = set()  # function controlids executed and completed (uniqueid=true)
        self.result_sets: dict[str, list[ET.Element]] = {}
        self.next_record = 4471
        self.tenant_name = "Intacct demo company"

    def new_tenant_id(self) -> str:
        return f"closebooks-{secrets.token_hex(3)}"

    # ------------------------------------------------------------ test controls

    def entries_by_local(self) -> Counter:
        with self.lock:
            return Counter(int(b["REFERENCENO"][3:]) for b in self.batches.values() if b["REFERENCENO"].startswith("JE-"))

    def add_batch(self, *, when: date, lines: list[tuple[str, str, str, str]], title: str = "Made in Sage Intacct") -> str:
        """A journal entry (GLBATCH) made by someone in Sage Intacct, for the inbound pull: ``lines``
        as (account number, "debit"|"credit", amount, location id or "")."""
        with self.lock:
            record = str(self.next_record)
            self.next_record += 1
            self.batches[record] = {
                "RECORDNO": record,
                "BATCHNO": str(int(record) - 4000),
                "BATCH_DATE": when,
                "BATCH_TITLE": title,
                "REFERENCENO": "",
                "STATE": "Posted",
                "WHENMODIFIED": datetime.now(UTC),
                "locations": sorted({loc for *_, loc in lines if loc}),
                "entries": [
                    {
                        "ACCOUNTNO": a,
                        "TR_TYPE": "1" if side == "debit" else "-1",
                        "TRX_AMOUNT": amount,
                        "LOCATION": loc,
                        "DESCRIPTION": "",
                    }
                    for a, side, amount, loc in lines
                ],
            }
            return record

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.sessions.clear()

    def issue_tokens(self) -> dict:
        with self.lock:
            session = secrets.token_urlsafe(18)
            self.sessions[session] = time.monotonic()
            return {"access_token": session, "refresh_token": "", "expires_in": 1800}

    def state(self) -> dict:
        counts = self.entries_by_local()
        return {
            **super().state(),
            "journals": len(self.batches),
            "local_entries": len(counts),
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        }

    def throttle(self, request: Request, bucket: str, wait: float) -> Response:
        return Response(429, "Too many requests", headers={"Retry-After": str(int(wait) + 1)}, content_type="text/plain")

    # ------------------------------------------------------------ dispatch (no OAuth: the gateway)

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_fake/"):
            return self.control(request)
        with self.lock:
            self.requests.append(request)
            injection = self._take_injection(request)
        if injection is not None and not injection.after_commit:
            return injection.response
        response = self.route(request, self.tenant_id)
        if self.latency:
            time.sleep(self.latency)
        return injection.response if injection is not None else response

    def route(self, request: Request, tenant: str) -> Response:
        if request.path != "/ia/xml/xmlgw.phtml" or request.method != "POST":
            return Response(404, "Not found", content_type="text/plain")
        try:
            root = SafeET.fromstring(request.body)
        except (SafeET.ParseError, ValueError):
            return self._failed_control("XL03000003", "XML Parse error", "The request is not well-formed XML.")
        if root.tag != "request" or root.find("control") is None or root.find("operation") is None:
            return self._failed_control("XL03000003", "XML Parse error", "A request needs <control> and <operation>.")
        try:
            # The gateway validates every 3.0 request against api.xsd (intacct/intacct_dtd README) and
            # answers a request that does not match with a control failure.
            contracts.check_intacct(request.body)
        except contracts.ContractViolation as exc:
            return self._failed_control("XL03000003", "XML Parse schema error", str(exc))
        control = root.find("control")
        if control.findtext("senderid") != self.client_id or control.findtext("password") != self.client_secret:
            return self._failed_control("XL03000006", "Sign-in information is incorrect", "Sender credentials refused.")
        unique = (control.findtext("uniqueid") or "true").strip().lower() == "true"
        answer = ET.Element("response")
        out_control = ET.SubElement(answer, "control")
        ET.SubElement(out_control, "status").text = "success"
        ET.SubElement(out_control, "controlid").text = control.findtext("controlid") or ""
        operation = ET.SubElement(answer, "operation")
        authentication = ET.SubElement(operation, "authentication")
        user = self._authenticate(root.find("operation/authentication"))
        if user is None:
            ET.SubElement(authentication, "status").text = "failure"
            operation.append(_error("XL03000006", "Sign-in information is incorrect", "Session or login refused."))
            return self._xml(answer)
        ET.SubElement(authentication, "status").text = "success"
        ET.SubElement(authentication, "userid").text = USER_ID
        ET.SubElement(authentication, "companyid").text = self.tenant_id
        functions = root.findall("operation/content/function")
        atomic = (root.find("operation").get("transaction") or "false").strip().lower() == "true"
        with self.lock:
            before = (dict(self.batches), set(self.executed), self.next_record)
            results = []
            for function in functions:
                controlid = function.get("controlid") or ""
                if unique and controlid in self.executed:
                    # Intacct "XML Requests", uniqueid: "When set to true, which is the default, a request
                    # cannot be repeated. The controlid attribute of the <function> element will be checked
                    # to determine if the operation was previously executed and completed." It is refused,
                    # not replayed. (The exact error number is not documented; this one is the fake's.)
                    results.append(
                        self._failure(
                            function[0].tag if len(function) else "unknown",
                            controlid,
                            "XL03000009",
                            "Duplicate control ID",
                            f"A function with controlid {controlid} was already executed and completed (uniqueid is true).",
                        )
                    )
                    continue
                result = self._function(function, controlid, user)
                if unique and controlid and result.findtext("status") == "success":
                    self.executed.add(controlid)
                results.append(result)
            if atomic and any(r.findtext("status") != "success" for r in results):
                # operation transaction="true": one failure rolls every function of the operation back.
                self.batches, self.executed, self.next_record = before
                for result in results:
                    if result.findtext("status") == "success":
                        result.find("status").text = "aborted"
                        data = result.find("data")
                        if data is not None:
                            result.remove(data)
        operation.extend(results)
        return self._xml(answer)

    def _xml(self, element: ET.Element) -> Response:
        return Response(200, b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(element), content_type="text/xml")

    def _failed_control(self, number: str, description: str, description2: str) -> Response:
        answer = ET.Element("response")
        control = ET.SubElement(answer, "control")
        ET.SubElement(control, "status").text = "failure"
        answer.append(_error(number, description, description2))
        return self._xml(answer)

    def _authenticate(self, authentication: ET.Element | None) -> str | None:
        if authentication is None:
            return None
        session = authentication.findtext("sessionid")
        if session is not None:
            with self.lock:
                return "session" if session.strip() in self.sessions else None
        login = authentication.find("login")
        if login is None:
            return None
        if (
            login.findtext("userid") == USER_ID
            and login.findtext("companyid") == self.tenant_id
            and login.findtext("password") == USER_PASSWORD
        ):
            return "login"
        return None

    def _result(self, name: str, controlid: str, *, ok: bool) -> ET.Element:
        result = ET.Element("result")
        ET.SubElement(result, "status").text = "success" if ok else "failure"
        ET.SubElement(result, "function").text = name
        ET.SubElement(result, "controlid").text = controlid
        return result

    def _failure(self, name: str, controlid: str, number: str, description: str, description2: str = "") -> ET.Element:
        result = self._result(name, controlid, ok=False)
        result.append(_error(number, description, description2))
        return result

    def _function(self, function: ET.Element, controlid: str, user: str) -> ET.Element:
        if len(function) != 1:
            return self._failure("unknown", controlid, "BL01001973", "A function holds exactly one call.")
        call = function[0]
        if call.tag == "getAPISession":
            if user != "login":
                return self._failure(call.tag, controlid, "XL03000006", "getAPISession needs a login.")
            session = secrets.token_urlsafe(18)
            self.sessions[session] = time.monotonic()
            result = self._result(call.tag, controlid, ok=True)
            api = ET.SubElement(ET.SubElement(result, "data"), "api")
            ET.SubElement(api, "sessionid").text = session
            ET.SubElement(api, "endpoint").text = self.session_endpoint or f"{self.url}/ia/xml/xmlgw.phtml"
            ET.SubElement(api, "locationid").text = ""
            return result
        if call.tag == "readByQuery":
            return self._read(call, controlid)
        if call.tag == "readMore":
            return self._read_more(call, controlid)
        if call.tag == "create" and call.find("GLBATCH") is not None:
            return self._glbatch(call.tag, call.find("GLBATCH"), controlid)
        if call.tag == "delete" and (call.findtext("object") or "").strip() == "GLBATCH":
            return self._delete(call, controlid)
        return self._failure(call.tag, controlid, "BL01001973", f"Unknown function {call.tag}.")

    # ------------------------------------------------------------ reads

    def _rows(self, obj: str) -> list[ET.Element] | None:
        rows = []
        if obj == "GLACCOUNT":
            for i, account in enumerate(self.chart, start=1):
                row = ET.Element("glaccount")
                for tag, value in (
                    ("RECORDNO", str(i)),
                    ("ACCOUNTNO", account["number"]),
                    ("TITLE", account["name"]),
                    ("ACCOUNTTYPE", TYPES.get(account["type"], "incomestatement")),
                    ("NORMALBALANCE", "debit" if account["type"] in ("asset", "expense") else "credit"),
                    ("CLOSINGTYPE", "non-closing account"),
                    ("STATUS", "active" if account["active"] else "inactive"),
                ):
                    ET.SubElement(row, tag).text = value
                rows.append(row)
            return rows
        if obj == "LOCATIONENTITY":
            for i, (location, name) in enumerate(self.entities.items(), start=1):
                row = ET.Element("locationentity")
                for tag, value in (("RECORDNO", str(i)), ("LOCATIONID", location), ("NAME", name), ("STATUS", "active")):
                    ET.SubElement(row, tag).text = value
                rows.append(row)
            return rows
        return None

    def _batch_rows(self, obj: str, query: str) -> list[ET.Element] | str:
        """GLBATCH and GLENTRY rows matching ``query`` (the clauses the Intacct query language
        offers that the client uses, joined by AND), or the reason the query is refused."""
        clauses = [c.strip() for c in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE) if c.strip()]
        batches = sorted(self.batches.values(), key=lambda b: int(b["RECORDNO"]))
        for clause in clauses:
            if m := re.fullmatch(r"STATE\s*=\s*'([A-Za-z]+)'", clause):
                batches = [b for b in batches if b.get("STATE", "Posted") == m.group(1)]
            elif m := re.fullmatch(r"WHENMODIFIED\s*>=?\s*'(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d)'", clause):
                since = datetime.strptime(m.group(1), "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
                batches = [b for b in batches if b["WHENMODIFIED"].replace(microsecond=0) >= since]
            elif m := re.fullmatch(r"BATCHNO\s+IN\s*\(([^)]*)\)", clause):
                wanted = {v.strip().strip("'") for v in m.group(1).split(",")}
                batches = [b for b in batches if b["RECORDNO"] in wanted]
            elif m := re.fullmatch(r"REFERENCENO\s+IN\s*\(([^)]*)\)", clause):
                wanted = {v.strip().strip("'") for v in m.group(1).split(",")}
                batches = [b for b in batches if b["REFERENCENO"] in wanted]
            else:
                return f"Invalid query: {clause}"
        rows = []
        for b in batches:
            if obj == "GLBATCH":
                row = ET.Element("glbatch")
                for tag, value in (
                    ("RECORDNO", b["RECORDNO"]),
                    ("BATCHNO", b.get("BATCHNO", b["RECORDNO"])),
                    ("BATCH_DATE", b["BATCH_DATE"].strftime("%m/%d/%Y")),
                    ("BATCH_TITLE", b.get("BATCH_TITLE", "")),
                    ("JOURNAL", "GJ"),
                    ("REFERENCENO", b["REFERENCENO"]),
                    ("STATE", b.get("STATE", "Posted")),
                    ("WHENMODIFIED", b["WHENMODIFIED"].strftime("%m/%d/%Y %H:%M:%S")),
                ):
                    ET.SubElement(row, tag).text = value
                rows.append(row)
                continue
            for line_no, entry in enumerate(b["entries"], start=1):
                row = ET.Element("glentry")
                for tag, value in (
                    ("RECORDNO", f"{b['RECORDNO']}{line_no:03d}"),
                    ("BATCHNO", b["RECORDNO"]),
                    ("LINE_NO", str(line_no)),
                    ("ACCOUNTNO", entry["ACCOUNTNO"]),
                    ("TR_TYPE", entry["TR_TYPE"]),
                    ("TRX_AMOUNT", entry["TRX_AMOUNT"]),
                    ("LOCATION", entry.get("LOCATION") or ""),
                    ("DESCRIPTION", entry.get("DESCRIPTION") or ""),
                ):
                    ET.SubElement(row, tag).text = value
                rows.append(row)
        return rows

    def _read(self, call: ET.Element, controlid: str) -> ET.Element:
        obj = (call.findtext("object") or "").strip()
        if obj in ("GLBATCH", "GLENTRY"):
            rows = self._batch_rows(obj, call.findtext("query") or "")
            if isinstance(rows, str):
                return self._failure("readByQuery", controlid, "BL01001973", rows)
        else:
            rows = self._rows(obj)
        if rows is None:
            return self._failure("readByQuery", controlid, "BL01001973", f"Unknown object {obj}.")
        try:
            size = min(self.page_max, int(call.findtext("pagesize") or 100))
        except ValueError:
            return self._failure("readByQuery", controlid, "BL01001973", "pagesize is not a number.")
        return self._page("readByQuery", controlid, obj, rows, size)

    def _page(self, name: str, controlid: str, obj: str, rows: list[ET.Element], size: int) -> ET.Element:
        result = self._result(name, controlid, ok=True)
        page, rest = rows[:size], rows[size:]
        result_id = ""
        if rest:
            result_id = secrets.token_hex(8)
            self.result_sets[result_id] = [obj, size, rest]
        data = ET.SubElement(
            result,
            "data",
            listtype=obj.lower(),
            count=str(len(page)),
            totalcount=str(len(rows)),
            numremaining=str(len(rest)),
            resultId=result_id,
        )
        data.extend(page)
        return result

    def _read_more(self, call: ET.Element, controlid: str) -> ET.Element:
        result_id = (call.findtext("resultId") or "").strip()
        state = self.result_sets.pop(result_id, None)
        if state is None:
            return self._failure("readMore", controlid, "BL01001973", f"Unknown resultId {result_id}.")
        obj, size, rows = state
        return self._page("readMore", controlid, obj, rows, size)

    # ------------------------------------------------------------ journal entries

    def _delete(self, call: ET.Element, controlid: str) -> ET.Element:
        """``<delete><object>GLBATCH</object><keys>RECORDNO</keys>``; a batch in a closed period stays."""
        record = (call.findtext("keys") or "").strip()
        batch = self.batches.get(record)
        if batch is None:
            return self._failure("delete", controlid, "BL01001973", f"Could not delete GLBATCH {record}: no such record.")
        for location in set(batch["locations"]) | {""}:
            closed = self.closed_through.get(location)
            if closed is not None and batch["BATCH_DATE"] <= closed:
                return self._failure(
                    "delete", controlid, "BL03000139", CLOSED.format(when=batch["BATCH_DATE"].strftime("%m/%d/%Y"))
                )
        del self.batches[record]
        result = self._result("delete", controlid, ok=True)
        ET.SubElement(result, "key").text = record
        return result

    def _glbatch(self, name: str, batch: ET.Element, controlid: str) -> ET.Element:
        try:
            when = datetime.strptime(batch.findtext("BATCH_DATE") or "", "%m/%d/%Y").date()  # noqa: DTZ007
        except ValueError:
            return self._failure(name, controlid, "BL01001973", "BATCH_DATE must be a date as mm/dd/yyyy.")
        lines = batch.findall("ENTRIES/GLENTRY")
        if len(lines) < 2:
            return self._failure(name, controlid, "BL01001973", "A journal entry needs at least two lines.")
        accounts = {a["number"]: a for a in self.chart}
        total, locations = Decimal(0), set()
        for line in lines:
            number = line.findtext("ACCOUNTNO") or ""
            if number not in accounts:
                return self._failure(name, controlid, "BL01001973", f"Invalid account {number}.")
            if not accounts[number]["active"]:
                return self._failure(name, controlid, "BL01001973", f"Account {number} is inactive.")
            sign = line.findtext("TR_TYPE")
            if sign not in ("1", "-1"):
                return self._failure(name, controlid, "BL01001973", "TR_TYPE must be 1 or -1.")
            try:
                amount = Decimal(line.findtext("TRX_AMOUNT") or "")
            except InvalidOperation:
                return self._failure(name, controlid, "BL01001973", "TRX_AMOUNT is not a number.")
            if amount <= 0:
                return self._failure(name, controlid, "BL01001973", "TRX_AMOUNT must be positive; TR_TYPE gives the side.")
            total += amount if sign == "1" else -amount
            location = line.findtext("LOCATION")
            if location is not None:
                if location not in self.entities:
                    return self._failure(name, controlid, "BL01001973", f"Invalid location {location}.")
                locations.add(location)
        if total != 0:
            return self._failure(name, controlid, "BL03002132", "The transaction is not balanced.")
        for location in locations | {""}:
            closed = self.closed_through.get(location)
            if closed is not None and when <= closed:
                return self._failure(name, controlid, "BL03000139", CLOSED.format(when=when.strftime("%m/%d/%Y")))
        record = str(self.next_record)
        self.next_record += 1
        self.batches[record] = {
            "RECORDNO": record,
            "BATCHNO": str(int(record) - 4000),
            "BATCH_DATE": when,
            "BATCH_TITLE": batch.findtext("BATCH_TITLE") or "",
            "REFERENCENO": batch.findtext("REFERENCENO") or "",
            "STATE": batch.findtext("STATE") or "Posted",
            "WHENMODIFIED": datetime.now(UTC),
            "locations": sorted(locations),
            "entries": [
                {tag: line.findtext(tag) or "" for tag in ("ACCOUNTNO", "TR_TYPE", "TRX_AMOUNT", "LOCATION", "DESCRIPTION")}
                for line in lines
            ],
        }
        result = self._result(name, controlid, ok=True)
        ET.SubElement(
            ET.SubElement(ET.SubElement(result, "data", listtype="objects", count="1"), "glbatch"), "RECORDNO"
        ).text = record
        return result
