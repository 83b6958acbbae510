"""PostgreSQL: a closed period can never be reopened, not even by raw SQL (PC5).
SQLite (the ``make run`` default) has only the service's rule."""

from django.db import migrations

from closebooks.sql import DROP_PERIOD_CLOSED_FOREVER, PERIOD_CLOSED_FOREVER


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("closebooks", "0002_period_date_before_lock")]

    operations = [migrations.RunPython(_on_postgresql(PERIOD_CLOSED_FOREVER), _on_postgresql(DROP_PERIOD_CLOSED_FOREVER))]
