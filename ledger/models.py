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
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .money import DEFAULT_FORMAT as DEFAULT_AMOUNT_FORMAT
from .money import FORMATS as AMOUNT_FORMATS
from .money import MoneyFormat, money_format

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
    years_ahead = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Entries and documents dated more than this many years after today are refused as typos.",
    )
    amount_format = models.CharField(
        max_length=10,
        choices=[(key, key) for key in AMOUNT_FORMATS],
        default=DEFAULT_AMOUNT_FORMAT.key,
        help_text="How people of this company write amounts in forms.",
    )
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

    @property
    def money_format(self) -> MoneyFormat:
        """How this company's people write amounts (``ledger.money``)."""
        return money_format(self.amount_format)


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
    entity = models.ForeignKey(
        "LedgerEntity", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Entity (BC9), if any."
    )
    closed_period_policy = models.CharField(
        max_length=60,
        blank=True,
        help_text="Set when an inbound entry was let into a closed period by a provider policy (BC6); the trigger reads it.",
    )
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
            # Every list of entries is ordered by (entry_date, id), newest or oldest first: with the
            # id in the index a page is read in order and stops at its LIMIT (without it PostgreSQL
            # sorted each date's entries and started parallel workers for a 50-row page).
            models.Index(fields=["company", "entry_date", "id"], name="entry_company_date_id"),
            models.Index(fields=["company"], condition=Q(is_balanced=False), name="entry_company_unbalanced"),
            # What Lock's sync prerequisite reads (PC4): a period's outbound entries and their
            # versions, from the index alone.
            models.Index(
                fields=["company", "entry_date"],
                include=["id", "updated_at"],
                condition=~Q(source="inbound_sync"),
                name="entry_company_date_outbound",
            ),
        ]

    def __str__(self) -> str:
        return f"JE-{self.pk} {self.entry_date} {self.memo}".strip()


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="lines")
    # company and entry_date repeat the entry's so that per-company, per-date reads and the
    # PostgreSQL books-closed trigger need no join; the posting service keeps them equal.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("LedgerEntity", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
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
            # INCLUDE: trial balances and the month-end GL sums read amounts from the index alone.
            models.Index(
                fields=["company", "account", "entry_date"], include=["debit", "credit"], name="line_company_account_date"
            ),
            # A period's lines in journal order (company, date, entry, line): reports that list a
            # month's lines page by page (GL revenue) and period scans stop at the page instead of
            # sorting the month (0.43 s -> 0.22 s at a million lines).
            models.Index(fields=["company", "entry_date", "entry", "line_no"], name="line_company_date_entry"),
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


class EntryImbalance(models.Model):
    """Debits minus credits of one entry in one currency, kept only while not zero: the entry is
    unbalanced (PC2) exactly while it has a row. Written only by the PostgreSQL triggers of
    migration ``ledger/0006_line_summaries``, never by Python."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.DO_NOTHING, related_name="+")
    currency = models.CharField(max_length=3)
    imbalance = models.DecimalField(max_digits=24, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "currency"], name="entryimbalance_one_per_currency")]

    def __str__(self) -> str:
        return f"JE-{self.entry_id} {self.currency} off by {self.imbalance}"


class AccountDayBalance(models.Model):
    """Debits, credits and the number of lines of one account on one day, summed over the
    journal lines (every currency, like the trial balance). Written only by the PostgreSQL
    triggers of migration ``ledger/0006_line_summaries``; rows without lines are deleted."""

    company = models.ForeignKey(Company, on_delete=models.DO_NOTHING, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, related_name="+")
    entry_date = models.DateField()
    debit = models.DecimalField(max_digits=24, decimal_places=2)
    credit = models.DecimalField(max_digits=24, decimal_places=2)
    line_count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "account", "entry_date"], name="accountdaybalance_one_per_day"),
        ]
        indexes = [models.Index(fields=["company", "entry_date"], name="accountdaybalance_company_date")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.entry_date} Dr {self.debit} Cr {self.credit}"


class EntryDayCount(models.Model):
    """How many journal entries one company has on one day. Written only by the PostgreSQL
    triggers of migration ``ledger/0006_line_summaries``; days without entries have no row."""

    company = models.ForeignKey(Company, on_delete=models.DO_NOTHING, related_name="+")
    entry_date = models.DateField()
    entries = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "entry_date"], name="entrydaycount_one_per_day")]

    def __str__(self) -> str:
        return f"{self.company_id} {self.entry_date}: {self.entries} entries"


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


# ---------------------------------------------------------------- books-closed date (BC1–BC9)


class LedgerEntity(models.Model):
    """An entity of a multi-entity company (Sage Intacct top level, BC9). Documents and journal
    entries may carry one; the guard then checks them against that entity's own closed date."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="entities")
    key = models.CharField(max_length=60, help_text="The accounting system's entity id, e.g. a Sage Intacct LOCATIONID.")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["company__name", "key"]
        verbose_name = "entity"
        verbose_name_plural = "entities"
        constraints = [models.UniqueConstraint(fields=["company", "key"], name="entity_key_unique_per_company")]

    def __str__(self) -> str:
        return f"{self.key} {self.name}".strip()


class BooksClosedSetting(models.Model):
    """The books-closed date of a company (``entity`` empty), or of one of its entities (BC9).

    The company row holds the switch (BC1) and the restrict-inbound toggle (BC6); an entity row
    holds only that entity's date, which replaces the company's date for the entity's documents.
    Written only by ``ledger.services.books_closed_*``; read by the guard and by the trigger."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Set by hand"
        INTEGRATION = "integration", "Pulled from the accounting system"
        PERIOD_CLOSE = "period_close", "Closing a period"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="books_closed_settings")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.CASCADE, related_name="books_closed")
    enabled = models.BooleanField(default=False, help_text="Closed books on (BC1). Off: no date applies.")
    closed_date = models.DateField(null=True, blank=True, help_text="Documents and lines dated on or before it are closed (BC4).")
    restrict_inbound = models.BooleanField(
        default=False, help_text="Apply the date to transactions coming in from the accounting system too (BC6)."
    )
    closed_through = models.DateField(
        null=True, blank=True, help_text="Last day of the latest closed period: the date can never move before it (BC3, PC5)."
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    source_name = models.CharField(max_length=60, blank=True, help_text="Which integration or user set the date.")
    source_at = models.DateTimeField(null=True, blank=True)
    pulled_date = models.DateField(null=True, blank=True, help_text="The accounting system's own closed date, last pulled.")
    pulled_source = models.CharField(max_length=60, blank=True)
    pulled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["company_id", "entity_id"]
        constraints = [
            models.UniqueConstraint(fields=["company"], condition=Q(entity__isnull=True), name="books_closed_one_per_company"),
            models.UniqueConstraint(
                fields=["company", "entity"], condition=Q(entity__isnull=False), name="books_closed_one_per_entity"
            ),
        ]

    def __str__(self) -> str:
        scope = f"{self.company} / {self.entity}" if self.entity_id else str(self.company)
        state = f"closed through {self.closed_date}" if self.enabled or self.entity_id else "off"
        return f"Books closed · {scope} · {state}"

    @property
    def mismatch(self) -> bool:
        """The accounting system reports another date than ours (BC8 banner)."""
        return self.pulled_date is not None and self.pulled_date != self.closed_date


# ---------------------------------------------------------------- AR/AP documents


class PostingAccounts(models.Model):
    """The accounts a company's documents post to. Created with standard accounts on first use
    (``ledger.services.posting_accounts_get``)."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="posting_accounts")
    receivable = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    payable = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    tax = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", help_text="Sales tax payable / recoverable.")
    cash = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    customer_deposits = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", help_text="Incoming payments not applied to an invoice yet."
    )
    vendor_prepayments = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    customer_credits = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    vendor_credits = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    credits_expense = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", help_text="Debited by manual credits and refunds given as credit."
    )

    class Meta:
        verbose_name_plural = "posting accounts"

    def __str__(self) -> str:
        return f"Posting accounts · {self.company}"


class Document(models.Model):
    """An invoice, bill, credit memo or vendor credit. One table for the four kinds keeps the
    books-closed trigger in one place; the proxies below give each kind its pages and admin.

    ``lines`` holds the document's lines (account id, description, amount, tax) as posted: the
    figures live on the row, so any change to them is an UPDATE the trigger sees."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        BILL = "bill", "Bill"
        CREDIT_MEMO = "credit_memo", "Credit memo"
        VENDOR_CREDIT = "vendor_credit", "Vendor credit"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        VOID = "void", "Void"

    CUSTOMER_KINDS = frozenset({Kind.INVOICE, Kind.CREDIT_MEMO})
    CREDIT_KINDS = frozenset({Kind.CREDIT_MEMO, Kind.VENDOR_CREDIT})

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="documents")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.CharField(max_length=60)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="documents")
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="documents")
    doc_date = models.DateField(help_text="Invoice, bill or credit date: the date the books-closed guard checks.")
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    lines = models.JSONField(default=list)
    subtotal = models.DecimalField(**MONEY, default=ZERO)
    tax = models.DecimalField(**MONEY, default=ZERO, help_text="Taxes charged (MR1).")
    total = models.DecimalField(**MONEY, default=ZERO)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    voided_at = models.DateTimeField(null=True, blank=True, help_text="When it was voided (MR6 counts it until then).")
    memo = models.CharField(max_length=500, blank=True)
    journal_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    void_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.CharField(max_length=60, blank=True, help_text="Empty: made in closebooks; else the provider it came from.")
    external_id = models.CharField(max_length=100, blank=True)
    closed_period_policy = models.CharField(max_length=60, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-doc_date", "-id"]
        indexes = [models.Index(fields=["company", "kind", "doc_date"], name="document_company_kind_date")]
        constraints = [
            models.UniqueConstraint(fields=["company", "kind", "number"], name="document_number_unique_per_kind"),
            models.CheckConstraint(
                condition=(Q(kind__in=["invoice", "credit_memo"]) & Q(customer__isnull=False) & Q(vendor__isnull=True))
                | (Q(kind__in=["bill", "vendor_credit"]) & Q(vendor__isnull=False) & Q(customer__isnull=True)),
                name="document_party_matches_kind",
            ),
            models.CheckConstraint(condition=Q(total=models.F("subtotal") + models.F("tax")), name="document_total_adds_up"),
            models.CheckConstraint(
                condition=Q(status="void", voided_at__isnull=False) | Q(status="open", voided_at__isnull=True),
                name="document_voided_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def party(self):
        return self.customer if self.kind in self.CUSTOMER_KINDS else self.vendor


class _KindManager(models.Manager):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def get_queryset(self):
        return super().get_queryset().filter(kind=self.kind)


class Invoice(Document):
    objects = _KindManager(Document.Kind.INVOICE)

    class Meta:
        proxy = True


class Bill(Document):
    objects = _KindManager(Document.Kind.BILL)

    class Meta:
        proxy = True


class CreditMemo(Document):
    objects = _KindManager(Document.Kind.CREDIT_MEMO)

    class Meta:
        proxy = True


class VendorCredit(Document):
    objects = _KindManager(Document.Kind.VENDOR_CREDIT)

    class Meta:
        proxy = True


DOCUMENT_PROXIES = {
    Document.Kind.INVOICE: Invoice,
    Document.Kind.BILL: Bill,
    Document.Kind.CREDIT_MEMO: CreditMemo,
    Document.Kind.VENDOR_CREDIT: VendorCredit,
}


class TransactionType(models.TextChoices):
    """The type of a money movement as the transaction report shows it (MR4, MR5). Manual and
    overpayment credits are no transaction of their own: they carry an empty type."""

    PAYMENT = "payment", "Payment"
    CUSTOMER_CREDIT = "customer_credit", "Customer Credit"
    REFUND_AS_CREDIT = "refund_as_credit", "Refund as Customer Credit"
    REFUND = "refund", "Refund"


class Payment(models.Model):
    """Money in (from a customer) or out (to a vendor). An incoming payment not (fully) applied to
    invoices is an un-invoiced payment (MR3). Recording posts cash against deposits/prepayments;
    applying moves the amount to receivables/payables on the application date."""

    class Direction(models.TextChoices):
        INCOMING = "incoming", "Incoming"
        OUTGOING = "outgoing", "Outgoing"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RECORDED = "recorded", "Recorded"
        DEPOSITED = "deposited", "Deposited"
        CLEARED = "cleared", "Cleared"
        VOIDED = "voided", "Voided"
        CANCELLED = "cancelled", "Cancelled"

    # Allowed moves, as data (one service applies them).
    MOVES = {
        Status.SCHEDULED: {Status.RECORDED, Status.CANCELLED},
        Status.RECORDED: {Status.DEPOSITED, Status.VOIDED},
        Status.DEPOSITED: {Status.CLEARED},
        Status.CLEARED: set(),
        Status.VOIDED: set(),
        Status.CANCELLED: set(),
    }
    POSTED = frozenset({Status.RECORDED, Status.DEPOSITED, Status.CLEARED})

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payments")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    process_date = models.DateField()
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    method = models.CharField(max_length=30, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    transaction_type = models.CharField(max_length=20, choices=TransactionType.choices, default=TransactionType.PAYMENT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    voided_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    journal_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    void_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.CharField(max_length=60, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-process_date", "-id"]
        indexes = [
            models.Index(fields=["company", "process_date"], name="payment_company_date"),
            # The few voided payments, read by the month-end checks (MR3, MR5) without scanning every payment.
            models.Index(fields=["company"], condition=Q(status="voided"), name="payment_company_voided"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=(Q(direction="incoming") & Q(customer__isnull=False) & Q(vendor__isnull=True))
                | (Q(direction="outgoing") & Q(vendor__isnull=False) & Q(customer__isnull=True)),
                name="payment_party_matches_direction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} payment {self.pk} {self.amount} {self.currency}"

    @property
    def party(self):
        return self.customer if self.direction == self.Direction.INCOMING else self.vendor


class CustomerCredit(models.Model):
    """A credit a customer holds (MR2, MR4): issued, manual, from an overpayment, or a refund given as credit."""

    class Kind(models.TextChoices):
        ISSUED = "issued", "Issued credit"
        MANUAL = "manual", "Manual credit"
        OVERPAYMENT = "overpayment", "Overpayment credit"
        REFUND_AS_CREDIT = "refund_as_credit", "Refund as customer credit"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customer_credits")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credits")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    credit_date = models.DateField()
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="credits", help_text="The overpaying payment."
    )
    transaction_type = models.CharField(
        max_length=20,
        choices=TransactionType.choices,
        blank=True,
        help_text="Issued: Customer Credit; refund as credit: Refund as Customer Credit; manual and overpayment: none.",
    )
    memo = models.CharField(max_length=500, blank=True)
    journal_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-credit_date", "-id"]
        indexes = [models.Index(fields=["company", "credit_date"], name="customer_credit_company_date")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="customer_credit_amount_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} · {self.customer}"

    KIND_TRANSACTION_TYPE = {
        Kind.ISSUED: TransactionType.CUSTOMER_CREDIT,
        Kind.REFUND_AS_CREDIT: TransactionType.REFUND_AS_CREDIT,
        Kind.MANUAL: "",
        Kind.OVERPAYMENT: "",
    }


class Refund(models.Model):
    """Money paid back to a customer out of their credit balance (MR5 excludes it from cash received)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="refunds")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="refunds")
    refund_date = models.DateField()
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    transaction_type = models.CharField(max_length=20, choices=TransactionType.choices, default=TransactionType.REFUND)
    memo = models.CharField(max_length=500, blank=True)
    journal_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-refund_date", "-id"]
        indexes = [models.Index(fields=["company", "refund_date"], name="refund_company_date")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} · {self.customer}"


class Application(models.Model):
    """Part of a credit memo, vendor credit, customer credit or payment applied to an invoice or
    bill, on its own date (MR6 counts it in the period of ``applied_on``). Never edited: undoing
    one adds a reversing row (negative amount) on an open date."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="applications")
    entity = models.ForeignKey(LedgerEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="applications_received")
    credit_document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="applications_made"
    )
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="applications")
    customer_credit = models.ForeignKey(
        CustomerCredit, null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    applied_on = models.DateField()
    amount = models.DecimalField(**MONEY, help_text="Negative on a row that reverses an earlier application.")
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    journal_entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-applied_on", "-id"]
        indexes = [models.Index(fields=["company", "applied_on"], name="application_company_date")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="application_amount_not_zero"),
            models.CheckConstraint(
                condition=(Q(credit_document__isnull=False) & Q(payment__isnull=True) & Q(customer_credit__isnull=True))
                | (Q(credit_document__isnull=True) & Q(payment__isnull=False) & Q(customer_credit__isnull=True))
                | (Q(credit_document__isnull=True) & Q(payment__isnull=True) & Q(customer_credit__isnull=False)),
                name="application_has_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} applied to {self.target} on {self.applied_on}"

    @property
    def source(self):
        return self.credit_document or self.payment or self.customer_credit
