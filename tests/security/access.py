"""ACCESS: what every URL pattern needs, one row per URL name. The matrix test fails on a URL
pattern that has no row here, so a new page is added to this table with it.

A row: ``Page(get=..., post=..., pk=...)``.
- get / post: the permission a role needs for that method (``ledger.roles``), ``LOGIN`` for any
  signed-in user, ``PUBLIC`` for everyone, ``None`` when the view refuses the method (405).
- pk: the world's object (tests/security/world.py) that fills the URL's ``pk``; the matrix also
  asks for the other company's object of that kind under the user's own company (404).
- kwargs: literal values of the other URL arguments (a period, a check rule, a report key).
- ok: the statuses that count as "served" (e.g. 400 for a callback without the state it was sent with).
- data: the POST's fields, for a page that needs one to know what it is about (``@name`` is the
  pk of the world's object of that name, on the requesting side).
- refused: for a role lacking the permission, the statuses of a refusal the page explains (the
  service's message) instead of 403; the matrix then checks that no audit event was written.
"""

from dataclasses import dataclass, field

from ledger.roles import ADMINISTER, MANAGE, POST, RECONCILE, VIEW

LOGIN = "login"
PUBLIC = "public"
PERIOD = {"period": "2026-03"}


@dataclass(frozen=True)
class Page:
    get: str | None = None
    post: str | None = None
    pk: str | None = None
    kwargs: dict = field(default_factory=dict)
    ok: tuple = ()
    refused: tuple = ()  # statuses of a refusal shown on the page (a message, a form error); nothing may be written
    data: dict = field(default_factory=dict)  # POST fields; a value naming a world object (``@name``) posts its pk
    api: str | None = None  # an API call: the key scope it needs ("read", "post") or PUBLIC; sessions do not count


ACCESS: dict[str, Page] = {
    # ---------------------------------------------------------------- outside any company
    "home": Page(get=LOGIN),
    "login": Page(get=PUBLIC, post=PUBLIC, ok=(200, 302)),  # a signed-in user is sent on
    "logout": Page(post=PUBLIC),
    "integrations_callback": Page(get=LOGIN, kwargs={"provider": "qbo"}, ok=(400,)),  # no state of this session
    "healthz": Page(get=PUBLIC),
    "integrations_qbwc": Page(post=PUBLIC, ok=(200, 500)),  # its own password; a SOAP 1.1 fault is an HTTP 500
    # ---------------------------------------------------------------- ledger
    "ledger:dashboard": Page(get=VIEW),
    "ledger:accounts": Page(get=VIEW),
    "ledger:account_new": Page(get=MANAGE, post=MANAGE),
    "ledger:account_edit": Page(get=MANAGE, post=MANAGE, pk="account"),
    "ledger:journal": Page(get=VIEW),
    "ledger:journal_entry_new": Page(get=POST, post=POST),
    "ledger:journal_entry": Page(get=VIEW, pk="entry"),
    "ledger:journal_entry_edit": Page(get=POST, post=POST, pk="entry"),
    "ledger:journal_entry_delete": Page(post=POST, pk="entry"),
    "ledger:members": Page(get=ADMINISTER, post=ADMINISTER),
    "ledger:accounting_preferences": Page(get=VIEW),
    "ledger:accounting_preferences_edit": Page(get=MANAGE, post=MANAGE),
    "ledger:accounting_preferences_entity": Page(post=MANAGE, data={"entity-entity": "@ledger_entity"}),
    "ledger:invoices": Page(get=VIEW),
    "ledger:invoice_new": Page(get=POST, post=POST),
    "ledger:bills": Page(get=VIEW),
    "ledger:bill_new": Page(get=POST, post=POST),
    "ledger:credit_memos": Page(get=VIEW),
    "ledger:credit_memo_new": Page(get=POST, post=POST),
    "ledger:vendor_credits": Page(get=VIEW),
    "ledger:vendor_credit_new": Page(get=POST, post=POST),
    "ledger:document": Page(get=VIEW, pk="invoice"),
    "ledger:document_edit": Page(get=POST, post=POST, pk="invoice"),
    "ledger:document_delete": Page(post=POST, pk="invoice"),
    "ledger:document_void": Page(post=POST, pk="invoice"),
    "ledger:document_apply": Page(post=POST, pk="credit_memo"),
    "ledger:payments": Page(get=VIEW),
    "ledger:payment_new": Page(get=POST, post=POST),
    "ledger:payment": Page(get=VIEW, pk="payment"),
    "ledger:payment_edit": Page(get=POST, post=POST, pk="payment"),
    "ledger:payment_move": Page(post=POST, pk="payment"),
    "ledger:payment_delete": Page(post=POST, pk="payment"),
    "ledger:payment_apply": Page(post=POST, pk="payment"),
    "ledger:customer_credits": Page(get=VIEW, post=POST),
    "ledger:customer_credit_apply": Page(post=POST, pk="customer_credit"),
    "ledger:customer_credit_edit": Page(get=POST, post=POST, pk="customer_credit"),
    "ledger:refunds": Page(get=VIEW, post=POST),
    "ledger:refund_edit": Page(get=POST, post=POST, pk="refund"),
    "ledger:application_reverse": Page(get=POST, post=POST, pk="application"),
    # ---------------------------------------------------------------- month-end checks and reports
    "month_end:index": Page(get=VIEW),
    "month_end:drill_down": Page(get=VIEW, kwargs={"rule": "MR1"}),
    "month_end:accept": Page(post=ADMINISTER, kwargs={"rule": "MR1"}, ok=(200, 302, 400)),  # 400: no reason given
    "month_end:reports": Page(get=VIEW),
    "month_end:report": Page(get=VIEW, kwargs={"key": "gl-revenue"}),
    # ---------------------------------------------------------------- reconciliation
    "reconciliation:index": Page(get=VIEW),
    "reconciliation:settings": Page(get=MANAGE, post=MANAGE),
    "reconciliation:reconcile": Page(get=VIEW, pk="account"),
    "reconciliation:account_properties": Page(get=MANAGE, post=MANAGE, pk="account"),
    "reconciliation:propose": Page(post=RECONCILE, pk="account"),
    "reconciliation:manual": Page(get=RECONCILE, post=RECONCILE, pk="account"),
    "reconciliation:proposal": Page(get=VIEW, pk="proposal"),
    "reconciliation:proposal_progress": Page(get=VIEW, pk="proposal"),
    "reconciliation:proposal_ticks": Page(post=RECONCILE, pk="proposal"),
    "reconciliation:reconciliations": Page(get=VIEW),
    "reconciliation:reconciliation": Page(get=VIEW, pk="reconciliation"),
    "reconciliation:reconciliation_delete": Page(post=RECONCILE, pk="reconciliation"),
    "reconciliation:journal": Page(get=VIEW),
    # ---------------------------------------------------------------- close wizard
    "close:overview": Page(get=VIEW),
    "close:start": Page(get=VIEW, post=VIEW),  # choosing a period only navigates
    "close:review": Page(get=VIEW, kwargs=PERIOD),
    "close:review_checks": Page(get=VIEW, kwargs=PERIOD),
    "close:failing_checks": Page(get=VIEW, kwargs=PERIOD),
    "close:sync": Page(get=VIEW, kwargs=PERIOD),
    "close:sync_start": Page(post=MANAGE, kwargs=PERIOD),
    "close:lock": Page(get=VIEW, kwargs=PERIOD),
    "close:lock_confirm": Page(post=MANAGE, kwargs=PERIOD, refused=(302,)),
    "close:unlock": Page(post=ADMINISTER, kwargs=PERIOD, refused=(302,)),
    "close:close": Page(get=VIEW, post=ADMINISTER, kwargs=PERIOD, refused=(200,)),
    "close:package": Page(get=VIEW, kwargs={**PERIOD, "fmt": "zip"}, ok=(200, 302)),  # 302: not closed yet
    # ---------------------------------------------------------------- integrations
    "integrations:status": Page(get=VIEW),
    "integrations:connect": Page(post=ADMINISTER),
    "integrations:connect_credentials": Page(post=ADMINISTER),
    "integrations:connect_choose": Page(post=ADMINISTER, ok=(302,)),  # no choice pending in this session
    "integrations:connect_qbd": Page(post=ADMINISTER),
    "integrations:qwc": Page(get=ADMINISTER, ok=(200, 302)),  # 302: no QuickBooks Desktop connection
    "integrations:entity_closed_date": Page(post=ADMINISTER),
    "integrations:disconnect": Page(post=ADMINISTER),
    "integrations:pull": Page(post=MANAGE),
    "integrations:mappings": Page(get=MANAGE, post=MANAGE),
    "integrations:sync": Page(post=MANAGE),
    "integrations:run": Page(get=VIEW, pk="run"),
    "integrations:run_progress": Page(get=VIEW, pk="run"),
    # ---------------------------------------------------------------- close checklist
    "checklist:template": Page(get=VIEW),
    "checklist:template_new": Page(get=MANAGE, post=MANAGE),
    "checklist:template_edit": Page(get=MANAGE, post=MANAGE, pk="task_template"),
    "checklist:attachment": Page(get=VIEW, pk="attachment"),
    "checklist:period": Page(get=VIEW, kwargs=PERIOD),
    "checklist:period_start": Page(post=MANAGE, kwargs=PERIOD),
    "checklist:period_refresh": Page(post=MANAGE, kwargs=PERIOD),
    "checklist:task": Page(get=VIEW, kwargs=PERIOD, pk="task"),
    # signing off is the task's preparer's or reviewer's: any other member is refused on the page (400)
    "checklist:task_prepare": Page(post=VIEW, kwargs=PERIOD, pk="task", ok=(302, 400)),
    "checklist:task_review": Page(post=VIEW, kwargs=PERIOD, pk="task", ok=(302, 400)),
    "checklist:task_send_back": Page(post=VIEW, kwargs=PERIOD, pk="task", ok=(302, 400)),
    "checklist:task_reassign": Page(post=MANAGE, kwargs=PERIOD, pk="task", ok=(302, 400)),
    "my_tasks": Page(get=LOGIN),
    # ---------------------------------------------------------------- notifications (a person's own)
    "notifications:list": Page(get=LOGIN),
    "notifications:read": Page(post=LOGIN),
    "notifications:preferences": Page(get=LOGIN, post=LOGIN),
    # ---------------------------------------------------------------- API keys and webhooks
    "api_settings:keys": Page(get=ADMINISTER, post=ADMINISTER, ok=(200, 400)),  # 400: the empty form
    "api_settings:key_revoke": Page(post=ADMINISTER, pk="api_key"),
    "api_settings:webhooks": Page(get=ADMINISTER, post=ADMINISTER, ok=(200, 400)),
    "api_settings:webhook": Page(get=ADMINISTER, pk="webhook"),
    "api_settings:webhook_delete": Page(post=ADMINISTER, pk="webhook"),
    "api_settings:delivery_redeliver": Page(post=ADMINISTER, pk="delivery"),
    # ---------------------------------------------------------------- the API: company keys, not sessions
    "api-v1:openapi-json": Page(api=PUBLIC),
    "api-v1:openapi-view": Page(api=PUBLIC),
    "api-v1:api-root": Page(api=PUBLIC, ok=(404,)),  # nothing lives at the bare version prefix
    "api-v1:books_closed": Page(api="read"),
    "api-v1:date_check": Page(api="read", data={"date": "2026-03-10"}),  # the query
    "api-v1:periods": Page(api="read"),
    "api-v1:close_progress": Page(api="read"),
    "api-v1:journal_entries": Page(
        api="post",
        ok=(201,),
        data={
            "entry_date": "2026-04-10",
            "lines": [{"account": "@account_code", "debit": "1.00"}, {"account": "@counter_code", "credit": "1.00"}],
        },
    ),
}
