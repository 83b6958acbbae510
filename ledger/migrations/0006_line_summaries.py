"""The journal's summaries (entry imbalances, account-day balances, entries per day), their
statement-level triggers and a backfill of the lines already there. PostgreSQL only: on SQLite
the tables stay empty and the selectors compute from the lines (see ``ledger/summary_sql.py``)."""

import django.db.models.deletion
from django.db import migrations, models

from ledger.summary_sql import BACKFILL_SUMMARIES, DROP_SUMMARY_TRIGGERS, SUMMARY_TRIGGERS


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0005_line_index_covers_amounts'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountDayBalance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_date', models.DateField()),
                ('debit', models.DecimalField(decimal_places=2, max_digits=24)),
                ('credit', models.DecimalField(decimal_places=2, max_digits=24)),
                ('line_count', models.BigIntegerField()),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.account')),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.company')),
            ],
            options={
                'indexes': [models.Index(fields=['company', 'entry_date'], name='accountdaybalance_company_date')],
                'constraints': [models.UniqueConstraint(fields=('company', 'account', 'entry_date'), name='accountdaybalance_one_per_day')],
            },
        ),
        migrations.CreateModel(
            name='EntryImbalance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('currency', models.CharField(max_length=3)),
                ('imbalance', models.DecimalField(decimal_places=2, max_digits=24)),
                ('entry', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.journalentry')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entry', 'currency'), name='entryimbalance_one_per_currency')],
            },
        ),
        migrations.CreateModel(
            name='EntryDayCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_date', models.DateField()),
                ('entries', models.BigIntegerField()),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='ledger.company')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('company', 'entry_date'), name='entrydaycount_one_per_day')],
            },
        ),
        # Triggers first, then the backfill under a SHARE lock: no line written in between is missed.
        migrations.RunPython(_on_postgresql(SUMMARY_TRIGGERS), _on_postgresql(DROP_SUMMARY_TRIGGERS)),
        migrations.RunPython(_on_postgresql(BACKFILL_SUMMARIES), migrations.RunPython.noop),
    ]
