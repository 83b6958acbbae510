from django.urls import path

from . import views

app_name = "reconciliation"

urlpatterns = [
    path("", views.index, name="index"),
    path("settings/", views.settings_edit, name="settings"),
    path("accounts/<int:pk>/", views.reconcile, name="reconcile"),
    path("accounts/<int:pk>/properties/", views.account_properties, name="account_properties"),
    path("accounts/<int:pk>/propose/", views.propose, name="propose"),
    path("accounts/<int:pk>/manual/", views.manual, name="manual"),
    path("proposals/<int:pk>/", views.proposal_detail, name="proposal"),
    path("proposals/<int:pk>/progress/", views.proposal_progress, name="proposal_progress"),
    path("proposals/<int:pk>/ticks/", views.proposal_ticks, name="proposal_ticks"),
    path("codes/", views.reconciliation_list, name="reconciliations"),
    path("codes/<int:pk>/", views.reconciliation_detail, name="reconciliation"),
    path("codes/<int:pk>/delete/", views.reconciliation_delete, name="reconciliation_delete"),
    path("journal/", views.journal, name="journal"),
]
