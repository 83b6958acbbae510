from django.urls import path

from . import views

app_name = "month_end"

urlpatterns = [
    path("", views.month_end, name="index"),
    path("checks/<str:rule>/", views.drill_down, name="drill_down"),
    path("checks/<str:rule>/accept/", views.accept, name="accept"),
    path("reports/", views.report_index, name="reports"),
    path("reports/<slug:key>/", views.report, name="report"),
]
