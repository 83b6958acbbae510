from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from closebooks import health
from closebooks import views as close_views
from closebooks.api.api import api
from closebooks.checklist import views as checklist_views
from integrations import views as integrations_views

urlpatterns = [
    path("", close_views.home, name="home"),
    path("healthz/", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("c/<slug:slug>/month-end/", include("closebooks.month_end.urls")),
    path("c/<slug:slug>/", include("ledger.urls")),
    path("c/<slug:slug>/reconcile/", include("reconciliation.urls")),
    path("c/<slug:slug>/close/", include("closebooks.close_urls")),
    path("c/<slug:slug>/checklist/", include("closebooks.checklist.urls")),
    path("c/<slug:slug>/settings/", include("closebooks.api.urls")),
    path("my-tasks/", checklist_views.my_tasks, name="my_tasks"),
    path("notifications/", include("closebooks.notifications.urls")),
    path("api/v1/", api.urls),
    path("c/<slug:slug>/integrations/", include("integrations.urls")),
    path("integrations/callback/<str:provider>/", integrations_views.connect_callback, name="integrations_callback"),
    path("integrations/qbwc/", integrations_views.qbwc, name="integrations_qbwc"),
]
