from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("", views.company_dashboard, name="dashboard"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/new/", views.account_edit, name="account_new"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("journal/", views.journal, name="journal"),
    path("journal/new/", views.journal_entry_edit, name="journal_entry_new"),
    path("journal/<int:pk>/", views.journal_entry_detail, name="journal_entry"),
    path("journal/<int:pk>/edit/", views.journal_entry_edit, name="journal_entry_edit"),
    path("journal/<int:pk>/delete/", views.journal_entry_delete, name="journal_entry_delete"),
    path("members/", views.members, name="members"),
    path("settings/accounting/", views.accounting_preferences, name="accounting_preferences"),
    path("settings/accounting/edit/", views.accounting_preferences_edit, name="accounting_preferences_edit"),
    path("invoices/", views.document_list, {"kind": "invoice"}, name="invoices"),
    path("invoices/new/", views.document_edit, {"kind": "invoice"}, name="invoice_new"),
    path("bills/", views.document_list, {"kind": "bill"}, name="bills"),
    path("bills/new/", views.document_edit, {"kind": "bill"}, name="bill_new"),
    path("credit-memos/", views.document_list, {"kind": "credit_memo"}, name="credit_memos"),
    path("credit-memos/new/", views.document_edit, {"kind": "credit_memo"}, name="credit_memo_new"),
    path("vendor-credits/", views.document_list, {"kind": "vendor_credit"}, name="vendor_credits"),
    path("vendor-credits/new/", views.document_edit, {"kind": "vendor_credit"}, name="vendor_credit_new"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("documents/<int:pk>/edit/", views.document_edit, name="document_edit"),
    path("documents/<int:pk>/delete/", views.document_delete, name="document_delete"),
    path("documents/<int:pk>/void/", views.document_void, name="document_void"),
    path("documents/<int:pk>/apply/", views.document_apply, name="document_apply"),
    path("payments/", views.payment_list, name="payments"),
    path("payments/new/", views.payment_edit, name="payment_new"),
    path("payments/<int:pk>/", views.payment_detail, name="payment"),
    path("payments/<int:pk>/edit/", views.payment_edit, name="payment_edit"),
    path("payments/<int:pk>/move/", views.payment_move, name="payment_move"),
    path("payments/<int:pk>/delete/", views.payment_delete, name="payment_delete"),
    path("payments/<int:pk>/apply/", views.payment_apply, name="payment_apply"),
    path("customer-credits/", views.customer_credits, name="customer_credits"),
    path("customer-credits/<int:pk>/apply/", views.customer_credit_apply, name="customer_credit_apply"),
    path("refunds/", views.refunds, name="refunds"),
]
