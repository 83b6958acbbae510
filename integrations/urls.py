from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.connection_status, name="status"),
    path("connect/", views.connect_start, name="connect"),
    path("connect/credentials/", views.connect_credentials, name="connect_credentials"),
    path("connect/choose/", views.connect_choose, name="connect_choose"),
    path("connect/qbd/", views.connect_qbd, name="connect_qbd"),
    path("qbd.qwc", views.qwc_download, name="qwc"),
    path("entities/closed-date/", views.entity_closed_date, name="entity_closed_date"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("pull/", views.pull, name="pull"),
    path("mappings/", views.mappings, name="mappings"),
    path("sync/", views.sync_start, name="sync"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
