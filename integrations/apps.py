from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        # The sync engine enqueues the push task by its registered name (services.transports), so
        # every process, web ones included, registers the tasks, not only Celery's workers.
        from . import tasks  # noqa: F401
