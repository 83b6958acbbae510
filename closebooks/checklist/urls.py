from django.urls import path

from . import views

app_name = "checklist"

urlpatterns = [
    path("", views.template, name="template"),
    path("template/new/", views.template_edit, name="template_new"),
    path("template/<int:pk>/", views.template_edit, name="template_edit"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("<str:period>/", views.period_checklist, name="period"),
    path("<str:period>/start/", views.period_start, name="period_start"),
    path("<str:period>/refresh/", views.period_refresh, name="period_refresh"),
    path("<str:period>/tasks/<int:pk>/", views.task, name="task"),
    path("<str:period>/tasks/<int:pk>/prepare/", views.task_prepare, name="task_prepare"),
    path("<str:period>/tasks/<int:pk>/review/", views.task_review, name="task_review"),
    path("<str:period>/tasks/<int:pk>/send-back/", views.task_send_back, name="task_send_back"),
    path("<str:period>/tasks/<int:pk>/reassign/", views.task_reassign, name="task_reassign"),
]
