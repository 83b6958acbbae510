"""Month-end checks (MR1–MR6, issue 8): a transaction type on every money movement, and indexes
for the set-based period aggregates. Existing customer credits get the type that goes with their
kind; the backfill bypasses the books-closed triggers of the table because it classifies rows
without changing any figure (and it is a no-op on a fresh database)."""

from django.conf import settings
from django.db import migrations, models


KIND_TRANSACTION_TYPE = {"issued": "customer_credit", "refund_as_credit": "refund_as_credit"}


def backfill_credit_transaction_types(apps, schema_editor):
    CustomerCredit = apps.get_model("ledger", "CustomerCredit")
    on_postgresql = schema_editor.connection.vendor == "postgresql"
    if on_postgresql:
        schema_editor.execute("ALTER TABLE ledger_customercredit DISABLE TRIGGER USER")
    for kind, transaction_type in KIND_TRANSACTION_TYPE.items():
        CustomerCredit.objects.filter(kind=kind).update(transaction_type=transaction_type)
    if on_postgresql:
        schema_editor.execute("ALTER TABLE ledger_customercredit ENABLE TRIGGER USER")


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_books_closed_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='customercredit',
            name='transaction_type',
            field=models.CharField(blank=True, choices=[('payment', 'Payment'), ('customer_credit', 'Customer Credit'), ('refund_as_credit', 'Refund as Customer Credit'), ('refund', 'Refund')], help_text='Issued: Customer Credit; refund as credit: Refund as Customer Credit; manual and overpayment: none.', max_length=20),
        ),
        migrations.AddField(
            model_name='payment',
            name='transaction_type',
            field=models.CharField(choices=[('payment', 'Payment'), ('customer_credit', 'Customer Credit'), ('refund_as_credit', 'Refund as Customer Credit'), ('refund', 'Refund')], default='payment', max_length=20),
        ),
        migrations.AddField(
            model_name='refund',
            name='transaction_type',
            field=models.CharField(choices=[('payment', 'Payment'), ('customer_credit', 'Customer Credit'), ('refund_as_credit', 'Refund as Customer Credit'), ('refund', 'Refund')], default='refund', max_length=20),
        ),
        migrations.RunPython(backfill_credit_transaction_types, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='application',
            index=models.Index(fields=['company', 'applied_on'], name='application_company_date'),
        ),
        migrations.AddIndex(
            model_name='customercredit',
            index=models.Index(fields=['company', 'credit_date'], name='customer_credit_company_date'),
        ),
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(condition=models.Q(('status', 'voided')), fields=['company'], name='payment_company_voided'),
        ),
        migrations.AddIndex(
            model_name='refund',
            index=models.Index(fields=['company', 'refund_date'], name='refund_company_date'),
        ),
    ]
