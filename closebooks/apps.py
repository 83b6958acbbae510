from django.apps import AppConfig


class ClosebooksConfig(AppConfig):
    name = "closebooks"
    verbose_name = "Close workflow"

    def ready(self):
        from . import logredact

        logredact.install()
