"""The books: companies (the tenant), roles, the chart of accounts, journal entries and their lines.

Rows and single-row rules only. Every write goes through ``ledger.services``.
"""

import re
import zoneinfo
from datetime import date
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

ZERO = Decimal("0.00")
MONEY = {"max_digits": 20, "decimal_places": 2}
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (use an IANA name such as Europe/Berlin).")


def validate_currency(value: str) -> None:
    if not CURRENCY_RE.match(value or ""):
        raise ValidationError(f"“{value}” is not an ISO 4217 currency code (three capital letters, e.g. USD).")


class Company(models.Model):
    """The tenant. Everything in closebooks belongs to exactly one company."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    base_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        permissions = [
            ("post_entries", "Create and edit documents and journal entries"),
            ("reconcile_accounts", "Reconcile ledger accounts"),
            ("manage_company", "Manage company: books-closed date, lock, sync, mappings"),
            ("administer_company", "Administer: closed books switch, unlock, close, members, connections"),
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self) -> date:
        """Today in the company's time zone: the only "today" an accounting rule may use."""
        return timezone.localdate(timezone=self.tz)


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrator"
    MANAGER = "manager", "Manager"
    ACCOUNTANT = "accountant", "Accountant"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's role in a company. The role is granted as guardian object permissions by
    ``ledger.services.membership_set_role``; this row records which role it is."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "user"], name="membership_one_per_user")]
        ordering = ["company__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.company}"


class Account(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        REVENUE = "revenue", "Revenue"
        EXPENSE = "expense", "Expense"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="accounts")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices)
    blocked = models.BooleanField(default=False, help_text="A blocked account accepts no new postings (LR2).")
    reconcilable = models.BooleanField(default=False, help_text="Lines of this account can be reconciled (LR1).")
    reconcile_with = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Reconcile this account against another one; the reconcile view then shows both (LR1).",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="account_code_unique_per_company"),
            models.CheckConstraint(condition=~Q(reconcile_with=models.F("id")), name="account_not_reconciled_with_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Party(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(Party):
    class Meta(Party.Meta):
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="customer_name_unique_per_company")]


class Vendor(Party):
    class Meta(Party.Meta):
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="vendor_name_unique_per_company")]


class JournalEntry(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        DOCUMENT = "document", "Document"
        IMPORT = "import", "Import"
        INBOUND_SYNC = "inbound_sync", "Inbound sync"
        WRITE_OFF = "write_off", "Write-off"

    # Sources whose entries come from outside: kept and flagged when unbalanced, never fixed or dropped.
    EXTERNAL_SOURCES = frozenset({Source.IMPORT, Source.INBOUND_SYNC})

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="journal_entries")
    entry_date = models.DateField()
    memo = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="Document or external number.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    is_balanced = models.BooleanField(
        default=True, help_text="False for an entry that arrived unbalanced from outside; the close wizard flags it (PC2)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-entry_date", "-id"]
        verbose_name_plural = "journal entries"
        indexes = [
            models.Index(fields=["company", "entry_date"], name="entry_company_date"),
            models.Index(fields=["company"], condition=Q(is_balanced=False), name="entry_company_unbalanced"),
        ]

    def __str__(self) -> str:
        return f"JE-{self.pk} {self.entry_date} {self.memo}".strip()


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="lines")
    # company and entry_date repeat the entry's so that per-company, per-date reads and the
    # PostgreSQL books-closed trigger need no join; the posting service keeps them equal.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    entry_date = models.DateField()
    line_no = models.PositiveIntegerField(default=1)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(max_length=500, blank=True)
    debit = models.DecimalField(**MONEY, default=ZERO)
    credit = models.DecimalField(**MONEY, default=ZERO)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    reconciliation_ref = models.CharField(
        max_length=100, blank=True, help_text="Reference shared by lines that settle each other (LR3 pass 1)."
    )

    class Meta:
        ordering = ["entry_id", "line_no"]
        indexes = [
            models.Index(fields=["company", "account", "entry_date"], name="line_company_account_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(debit__gte=0) & Q(credit__gte=0), name="line_amounts_not_negative"),
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="line_one_side_only",
            ),
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account.code} {side} {self.currency}"

    @property
    def amount(self) -> Decimal:
        """Signed amount: debit positive, credit negative."""
        return self.debit - self.credit


class AuditEvent(models.Model):
    """Append-only trail (PC6): who, when, what, before and after, and why."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=60)
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=60, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["company", "subject_type", "subject_id"], name="audit_subject")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject_type} {self.subject_id}"
