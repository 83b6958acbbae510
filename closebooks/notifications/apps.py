from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "closebooks.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers  # noqa: F401 - connects to the lower layers' signals
