from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from integrations import views as integrations_views
from ledger import views as ledger_views

urlpatterns = [
    path("", ledger_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("c/<slug:slug>/", include("ledger.urls")),
    path("c/<slug:slug>/integrations/", include("integrations.urls")),
    path("integrations/callback/<str:provider>/", integrations_views.connect_callback, name="integrations_callback"),
    path("integrations/qbwc/", integrations_views.qbwc, name="integrations_qbwc"),
]
