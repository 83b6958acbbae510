from django.apps import AppConfig


class MonthEndConfig(AppConfig):
    name = "closebooks.month_end"
    label = "month_end"
    verbose_name = "Month-end checks"
    default_auto_field = "django.db.models.BigAutoField"
