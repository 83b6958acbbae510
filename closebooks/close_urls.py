from django.urls import path

from . import views

app_name = "close"

urlpatterns = [
    path("", views.close_overview, name="overview"),
    path("start/", views.get_started, name="start"),
    path("<str:period>/review/", views.review, name="review"),
]
