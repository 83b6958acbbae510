from django.urls import path, re_path

from . import views

app_name = "close"

urlpatterns = [
    path("", views.close_overview, name="overview"),
    path("start/", views.get_started, name="start"),
    path("<str:period>/review/", views.review, name="review"),
    path("<str:period>/review/checks/", views.review_checks, name="review_checks"),
    path("<str:period>/review/failing/", views.failing_checks, name="failing_checks"),
    path("<str:period>/sync/", views.sync, name="sync"),
    path("<str:period>/sync/start/", views.sync_start, name="sync_start"),
    path("<str:period>/lock/", views.lock, name="lock"),
    path("<str:period>/lock/confirm/", views.lock_confirm, name="lock_confirm"),
    path("<str:period>/unlock/", views.unlock, name="unlock"),
    path("<str:period>/close/", views.close, name="close"),
    re_path(r"^(?P<period>\d{4}-\d{2})/package\.(?P<fmt>xlsx|zip)$", views.package, name="package"),
]
