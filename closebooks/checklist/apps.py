from django.apps import AppConfig


class ChecklistConfig(AppConfig):
    name = "closebooks.checklist"
    label = "checklist"
    verbose_name = "Close checklist"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers  # noqa: F401 - the Sync step follows finished sync runs
