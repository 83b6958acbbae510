from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "closebooks.api"
    label = "closebooks_api"
    verbose_name = "API and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import api, receivers  # noqa: F401 - webhooks for what the lower layers announce
        # ``api`` builds its schemas now, at start-up, from the real ``datetime.date`` (a test that
        # freezes time before the URLconf is first loaded would hand pydantic freezegun's FakeDate).
