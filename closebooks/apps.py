from django.apps import AppConfig


class ClosebooksConfig(AppConfig):
    name = "closebooks"
    verbose_name = "Close workflow"
