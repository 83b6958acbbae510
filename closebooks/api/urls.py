from django.urls import path

from . import views

app_name = "api_settings"

urlpatterns = [
    path("api-keys/", views.api_keys, name="keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="key_revoke"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook, name="webhook"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/deliveries/<int:pk>/redeliver/", views.delivery_redeliver, name="delivery_redeliver"),
]
