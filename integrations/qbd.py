"""QuickBooks Desktop: closebooks' side of the Web Connector (QBWC) protocol (integration-apis.md §5).

Sync jobs leave qbXML requests (``QbdRequest``) in the queued transport (``services.queued``); the
Web Connector polls the SOAP endpoint, takes one
request per ``sendRequestXML`` and brings QuickBooks' answer back through ``receiveResponseXML``,
whose return value is the progress in percent (100: nothing left). A request marked sent whose answer
never came may have been carried out, and QuickBooks Desktop does not deduplicate: the entry is
looked up by RefNumber (``JournalEntryQueryRq``) before it is ever sent again.

The SOAP handler is small and hand-written (document/literal, namespace http://developer.intuit.com/)
and parses with defusedxml: its input comes from outside."""

from __future__ import annotations

import secrets
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - builds answers only; requests are parsed with defusedxml
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ledger import roles
from ledger.models import Company
from ledger.permissions import require
from ledger.services import audit_record

from .exceptions import IntegrationError
from .models import Connection, QbdClientVersion, QbdRequest, QbdSession, SyncRun
from .providers.base import ClosedDate, ClosedPeriodRejected, EntryRejected, ProviderError, PushOutcome
from .providers.qbd import (
    CLOSED_CODES,
    MIN_CONNECTOR,
    accounts_from,
    closing_date_from,
    inbound_journal_query,
    invoice_query,
    invoices_from,
    item_query,
    items_from,
    iterator_next,
    journal_entry_add,
    journal_entry_query,
    journals_from,
    parse_response,
    version_tuple,
)
from .services.chart import accounts_store, items_add, items_store
from .services.closed_dates import closed_date_store
from .services.inbound import inbound_store, inbound_waiting_post
from .services.push import PushEngine, entry_from_payload
from .services.queued import INBOUND_KINDS, PENDING, new_request_id, push_finish_if_done
from .services.runs import run_finish

NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SERVER_VERSION = "closebooks Web Connector service 1.0"
VERSION_TTL = 600  # seconds a clientVersion is kept for the authenticate call that follows it
ADD_KINDS = [QbdRequest.Kind.JOURNAL_ENTRY_ADD, QbdRequest.Kind.JOURNAL_ENTRY_QUERY]


# ---------------------------------------------------------------- connect and the .qwc file


def connection_connect_qbd(*, company: Company, actor: AbstractBaseUser | None) -> tuple[Connection, str]:
    """Make (or repair) the company's QuickBooks Desktop connection and a new Web Connector password,
    returned once to be typed into the Web Connector; only its hash is kept."""
    require(actor, roles.ADMINISTER, company, what="connect an accounting system")
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        live = (
            Connection.objects.select_for_update().filter(company=company).exclude(status=Connection.Status.DISCONNECTED).first()
        )
        if live is not None and live.provider != Connection.Provider.QBD:
            raise IntegrationError(f"{company} is already connected to {live}. Disconnect it first.")
        conn = live or Connection(
            company=company, provider=Connection.Provider.QBD, tenant_id=f"closebooks-{company.slug}"[:100], connected_by=actor
        )
        conn.tenant_name = conn.tenant_name or "QuickBooks Desktop company file (through the Web Connector)"
        conn.authorize_url = conn.token_url = conn.api_base_url = conn.connections_url = ""
        conn.status, conn.last_error = Connection.Status.ACTIVE, ""
        conn.access_token, conn.refresh_token = "", make_password(password)
        conn.save()
        audit_record(
            company=company,
            actor=actor,
            action="connection.connect",
            subject=conn,
            after={"provider": conn.provider, "tenant_id": conn.tenant_id, "web_connector_password": "new"},
        )
    return conn, password


def qwc_file(*, connection: Connection, app_url: str, support_url: str) -> str:
    """The .qwc file the customer loads into the Web Connector."""
    owner = uuid.uuid5(uuid.NAMESPACE_URL, f"closebooks-owner-{connection.company_id}")
    file_id = uuid.uuid5(uuid.NAMESPACE_URL, f"closebooks-file-{connection.pk}")
    root = ET.Element("QBWCXML")
    for tag, value in (
        ("AppName", f"closebooks – {connection.company.name}"[:100]),
        ("AppID", ""),
        ("AppURL", app_url),
        ("AppDescription", "closebooks pushes journal entries and reads the chart of accounts and the closing date."),
        ("AppSupport", support_url),
        ("UserName", connection.tenant_id),
        ("OwnerID", f"{{{owner}}}"),
        ("FileID", f"{{{file_id}}}"),
        ("QBType", "QBFS"),
    ):
        ET.SubElement(root, tag).text = value
    ET.SubElement(ET.SubElement(root, "Scheduler"), "RunEveryNMinutes").text = "15"
    ET.SubElement(root, "IsReadOnly").text = "false"
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- the Web Connector's calls


def _session(ticket: str) -> QbdSession | None:
    if not ticket:
        return None
    return QbdSession.objects.select_related("connection").filter(ticket=ticket, closed_at__isnull=True).first()


def client_version(version: str, *, client: str) -> str:
    """Kept in the database until this Web Connector's ``authenticate``, which another web process
    may serve."""
    QbdClientVersion.objects.update_or_create(
        client=client[:100], defaults={"version": version[:50], "reported_at": timezone.now()}
    )
    if version_tuple(version) < version_tuple(MIN_CONNECTOR):
        return (
            f"W:closebooks needs Web Connector v_{MIN_CONNECTOR} or later to sync the closing date; "
            f"this is {version or 'an unknown version'}. Journal entries and the chart of accounts still sync."
        )
    return ""


def authenticate(username: str, password: str, *, client: str, request=None) -> list[str]:
    """The Web Connector signs in. Its failures count towards the same lockout (django-axes) as
    the sign-in pages, under the username ``qbwc:<username>``; a locked-out name is refused
    without its password being checked."""
    credentials = {"username": f"qbwc:{username}"}
    if request is not None and not AxesProxyHandler.is_allowed(request, credentials):
        request.axes_locked_out, request.axes_credentials = True, credentials  # AxesMiddleware answers 429
        return ["", "nvu"]
    conn = Connection.objects.filter(
        provider=Connection.Provider.QBD, tenant_id=username, status=Connection.Status.ACTIVE
    ).first()
    if conn is None or not password or not check_password(password, str(conn.refresh_token)):
        if request is not None:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        return ["", "nvu"]
    reported = QbdClientVersion.objects.filter(
        client=client[:100], reported_at__gte=timezone.now() - timedelta(seconds=VERSION_TTL)
    ).first()
    version = reported.version if reported is not None else ""
    session = QbdSession.objects.create(connection=conn, ticket=secrets.token_hex(16), client_version=version)
    if version and version != conn.remote_version:
        Connection.objects.filter(pk=conn.pk).update(remote_version=version[:100])
    work = QbdRequest.objects.filter(connection=conn, state__in=PENDING).exists()
    return [session.ticket, "" if work else "none"]


def send_request_xml(ticket: str, company_file: str) -> str:
    session = _session(ticket)
    if session is None:
        return ""
    with transaction.atomic():
        request = (
            QbdRequest.objects.select_for_update(skip_locked=True)
            .filter(connection=session.connection, state__in=PENDING)
            .order_by("-state", "id")  # "sent" (lost answers) before "queued"
            .first()
        )
        if request is None:
            QbdSession.objects.filter(pk=session.pk).update(last_error="Nothing to send.")
            return ""
        if request.state == QbdRequest.State.SENT and request.kind == QbdRequest.Kind.JOURNAL_ENTRY_ADD:
            # Its answer was lost: QuickBooks may hold the entry. Ask before sending it again.
            request.state, request.status_message = QbdRequest.State.FAILED, "Answer lost; looked up by RefNumber."
            request.save(update_fields=["state", "status_message"])
            request_id = new_request_id()
            request = QbdRequest.objects.create(
                connection=session.connection,
                run=request.run,
                outbox=request.outbox,
                kind=QbdRequest.Kind.JOURNAL_ENTRY_QUERY,
                request_id=request_id,
                ref_number=request.ref_number,
                qbxml=journal_entry_query(request.ref_number, request_id),
            )
        request.state, request.ticket, request.sent_at = QbdRequest.State.SENT, ticket, timezone.now()
        request.attempts += 1
        request.save(update_fields=["state", "ticket", "sent_at", "attempts"])
        QbdSession.objects.filter(pk=session.pk).update(sent=F("sent") + 1, company_file=company_file[:500])
        if request.run_id:
            SyncRun.objects.filter(pk=request.run_id, status=SyncRun.Status.QUEUED).update(
                status=SyncRun.Status.RUNNING, started_at=timezone.now()
            )
        return request.qbxml


def receive_response_xml(ticket: str, response: str, hresult: str, message: str) -> int:
    session = _session(ticket)
    if session is None:
        return -1
    if hresult:
        # QuickBooks could not run the request: it stays "sent", to be looked up before any resend.
        QbdSession.objects.filter(pk=session.pk).update(last_error=f"QuickBooks error {hresult}: {message}"[:2000])
        return -1
    try:
        answers = parse_response(response)
    except Exception as exc:  # noqa: BLE001 - ProviderError or anything the parser raises: reported, nothing written
        QbdSession.objects.filter(pk=session.pk).update(last_error=str(exc)[:2000])
        return -1
    for answer in answers:
        _apply(session, answer)
    for run_id in {
        r for r in QbdRequest.objects.filter(ticket=ticket, kind__in=ADD_KINDS).values_list("run_id", flat=True).distinct() if r
    }:
        push_finish_if_done(run_id)
    QbdSession.objects.filter(pk=session.pk).update(answered=F("answered") + 1)
    session.refresh_from_db()
    remaining = QbdRequest.objects.filter(connection=session.connection, state__in=PENDING).count()
    if remaining == 0:
        return 100
    return min(99, int(100 * session.answered / (session.answered + remaining)))


def _apply(session: QbdSession, answer) -> None:
    with transaction.atomic():
        request = (
            QbdRequest.objects.select_for_update(of=("self",))
            .select_related("run", "outbox")
            .filter(connection=session.connection, request_id=answer.request_id, state=QbdRequest.State.SENT)
            .first()
        )
        if request is None:
            QbdSession.objects.filter(pk=session.pk).update(
                last_error=f"Unexpected answer {answer.request_id or '(no requestID)'}."
            )
            return
        request.state, request.answered_at = QbdRequest.State.DONE, timezone.now()
        request.status_code, request.status_message = answer.status_code, answer.message[:2000]
        request.save(update_fields=["state", "answered_at", "status_code", "status_message"])
        run = request.run
        if request.kind in (QbdRequest.Kind.JOURNAL_ENTRY_ADD, QbdRequest.Kind.JOURNAL_ENTRY_QUERY):
            row = request.outbox
            if request.kind == QbdRequest.Kind.JOURNAL_ENTRY_QUERY and answer.no_match:
                # Not in QuickBooks: the lost request never ran there. Send it again.
                request_id = new_request_id()
                QbdRequest.objects.create(
                    connection=session.connection,
                    run=run,
                    outbox=row,
                    kind=QbdRequest.Kind.JOURNAL_ENTRY_ADD,
                    request_id=request_id,
                    ref_number=request.ref_number,
                    qbxml=journal_entry_add(entry_from_payload(row.entry_id, row.payload), request_id),
                )
                return
            ret = answer.element.find("JournalEntryRet")
            if answer.ok and ret is not None:
                outcome = PushOutcome(
                    row.entry_id, external_id=ret.findtext("TxnID") or "", external_version=ret.findtext("EditSequence") or ""
                )
            elif answer.status_code in CLOSED_CODES or "closing date" in answer.message.lower():
                outcome = PushOutcome(row.entry_id, error=ClosedPeriodRejected(f"QuickBooks Desktop: {answer.message}"))
            else:
                outcome = PushOutcome(
                    row.entry_id,
                    error=EntryRejected(f"QuickBooks Desktop refused JE-{row.entry_id} ({answer.status_code}): {answer.message}"),
                )
            PushEngine(run, sleep=lambda s: None).record([row], [outcome], attempts=request.attempts)
            return
        if request.kind in INBOUND_KINDS:
            _apply_inbound(session, request, answer)
            return
        if not answer.ok:
            run_finish(run, error=f"QuickBooks Desktop refused {answer.tag} ({answer.status_code}): {answer.message}")
            return
        if request.kind == QbdRequest.Kind.ACCOUNT_QUERY:
            accounts_store(connection=session.connection, remote=accounts_from(answer), actor=None)
            SyncRun.objects.filter(pk=run.pk).update(done=1, requests=request.attempts)
            run_finish(run)
        elif request.kind == QbdRequest.Kind.PREFERENCES_QUERY:
            closing = closing_date_from(answer)
            detail = {"source": "PreferencesRet/AccountingPreferences/ClosingDate", "connector": session.client_version}
            closed_date_store(connection=session.connection, run=run, dates=[ClosedDate(closing, detail=detail)], actor=None)


def _apply_inbound(session: QbdSession, request: QbdRequest, answer) -> None:
    """One answer of an inbound pull (IN6): the item list is stored (and invoices waiting for a
    mapping are tried again), journal entries and invoices are posted through the inbound path."""
    run, connection = request.run, session.connection

    def fail(error: str) -> None:  # the rest of the pull is not sent; what it would bring comes on the next pull
        QbdRequest.objects.filter(connection=connection, run=run, state=QbdRequest.State.QUEUED).update(
            state=QbdRequest.State.FAILED, status_message="Not sent: an earlier request of this pull failed."
        )
        run_finish(run, error=error)

    if not answer.ok and not answer.no_match:  # statusCode 1: the query matched nothing
        fail(f"QuickBooks Desktop refused {answer.tag} ({answer.status_code}): {answer.message}")
        return
    continuation = iterator_next(answer) if answer.ok else ""
    try:
        if request.kind == QbdRequest.Kind.ITEM_QUERY:
            items = items_from(answer) if answer.ok else []
            if continuation or request.qbxml.find('iterator="Continue"') >= 0:
                # One page of a longer list: kept with what the earlier pages brought, none marked gone.
                items_add(connection=connection, remote=items)
            else:
                items_store(connection=connection, remote=items)
            if not continuation:
                inbound_waiting_post(connection=connection)
        elif request.kind == QbdRequest.Kind.INBOUND_JOURNAL_QUERY:
            inbound_store(connection=connection, run=run, txns=journals_from(answer) if answer.ok else [], actor=None)
        else:
            inbound_store(connection=connection, run=run, txns=invoices_from(answer) if answer.ok else [], actor=None)
    except (ArithmeticError, ValueError, ProviderError) as exc:  # raised while reading the answer, before anything is posted
        fail(f"QuickBooks Desktop answered {answer.tag} with a value closebooks cannot read: {exc}")
        return
    if continuation:
        # OSR "Iterators": the next page is asked for with iterator="Continue" and the iteratorID, before
        # the run can finish (it stays open while a request of it is pending).
        build = {
            QbdRequest.Kind.ITEM_QUERY: lambda rid: item_query(rid, continuation),
            QbdRequest.Kind.INBOUND_JOURNAL_QUERY: lambda rid: inbound_journal_query(rid, None, continuation),
            QbdRequest.Kind.INVOICE_QUERY: lambda rid: invoice_query(rid, None, continuation),
        }[request.kind]
        request_id = new_request_id()
        QbdRequest.objects.create(
            connection=connection, run=run, kind=request.kind, request_id=request_id, qbxml=build(request_id)
        )
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(status=SyncRun.Status.RUNNING)
    if not QbdRequest.objects.filter(run=run, state__in=PENDING).exists():
        pulled_from = (run.result or {}).get("pulled_from")
        if pulled_from:
            Connection.objects.filter(pk=connection.pk).update(inbound_pulled_at=pulled_from)
        run_finish(run)


def get_last_error(ticket: str) -> str:
    session = QbdSession.objects.filter(ticket=ticket).first() if ticket else None
    if session is None:
        return "Unknown ticket: the Web Connector must sign in again (authenticate)."
    return session.last_error or "NoOp"


def connection_error(ticket: str, hresult: str, message: str) -> str:
    session = _session(ticket)
    if session is None:
        return "done"
    QbdSession.objects.filter(pk=session.pk).update(last_error=f"Connection error {hresult}: {message}"[:2000])
    return "done"


def close_connection(ticket: str) -> str:
    session = _session(ticket)
    if session is None:
        return "Unknown ticket."
    QbdSession.objects.filter(pk=session.pk).update(closed_at=timezone.now())
    return "OK"


# ---------------------------------------------------------------- SOAP


def _fault(message: str) -> tuple[int, bytes]:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    fault = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{SOAP_NS}}}Fault")
    ET.SubElement(fault, "faultcode").text = "soap:Client"
    ET.SubElement(fault, "faultstring").text = message
    return 500, b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(envelope)


def _answer(method: str, result) -> tuple[int, bytes]:
    ET.register_namespace("soap", SOAP_NS)
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    body = ET.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    response = ET.SubElement(body, f"{{{NS}}}{method}Response")
    node = ET.SubElement(response, f"{{{NS}}}{method}Result")
    if isinstance(result, list):
        for value in result:
            ET.SubElement(node, f"{{{NS}}}string").text = value
    else:
        node.text = str(result)
    return 200, b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(envelope)


def soap_handle(body: bytes, *, client: str = "", request=None) -> tuple[int, bytes]:
    """One SOAP 1.1 call of the Web Connector: (HTTP status, response envelope)."""
    try:
        root = SafeET.fromstring(body)
    except DefusedXmlException:
        return _fault("The request holds XML constructs that are not accepted (entities, DTD).")
    except (SafeET.ParseError, ValueError):
        return _fault("The request is not well-formed XML.")
    call = root.find(f"{{{SOAP_NS}}}Body/*") if root.tag == f"{{{SOAP_NS}}}Envelope" else None
    if call is None or not call.tag.startswith(f"{{{NS}}}"):
        return _fault(f"Expected a SOAP 1.1 envelope with a call in the {NS} namespace.")
    method = call.tag[len(NS) + 2 :]
    args = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in call}
    ticket = args.get("ticket", "")
    if method == "serverVersion":
        return _answer(method, SERVER_VERSION)
    if method == "clientVersion":
        return _answer(method, client_version(args.get("strVersion", ""), client=client))
    if method == "authenticate":
        username, password = args.get("strUserName", ""), args.get("strPassword", "")
        return _answer(method, authenticate(username, password, client=client, request=request))
    if method == "sendRequestXML":
        return _answer(method, send_request_xml(ticket, args.get("strCompanyFileName", "")))
    if method == "receiveResponseXML":
        return _answer(
            method, receive_response_xml(ticket, args.get("response", ""), args.get("hresult", ""), args.get("message", ""))
        )
    if method == "getLastError":
        return _answer(method, get_last_error(ticket))
    if method == "connectionError":
        return _answer(method, connection_error(ticket, args.get("hresult", ""), args.get("message", "")))
    if method == "closeConnection":
        return _answer(method, close_connection(ticket))
    return _fault(f"Unknown Web Connector method “{method}”.")


__all__ = ["connection_connect_qbd", "qwc_file", "soap_handle"]
