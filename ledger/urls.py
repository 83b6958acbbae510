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
]
