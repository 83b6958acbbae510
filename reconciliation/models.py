"""Ledger-account reconciliation (LR1–LR7): settings, reconciliations (codes), proposals.

Reconciliation state lives here, never on ``ledger.JournalLine``: a reconciled line is a row of
``ReconciledLine`` whose primary key is the line id, so a line can be reconciled once only and two
users reconciling the same line cannot both win. Rows are written in bulk (INSERT ... SELECT),
never by updating a million journal lines.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from ledger.models import MONEY, ZERO, Account, Company, JournalEntry, JournalLine


class ReconciliationSettings(models.Model):
    """Per company (LR4): the permitted difference and the balancing-discrepancies account."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="reconciliation_settings")
    permitted_difference = models.DecimalField(
        **MONEY,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text="A group whose balance is within this amount is reconciled and the difference written off (LR4).",
    )
    discrepancy_account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="balancing-discrepancies account",
        help_text="Write-offs are posted against this account (LR4).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "reconciliation settings"
        verbose_name_plural = "reconciliation settings"

    def __str__(self) -> str:
        return f"Reconciliation settings of {self.company}"


class Basis(models.TextChoices):
    """Why lines were put together: the proposal's passes (LR3), or a person (LR5, LR7)."""

    REFERENCE = "reference", "Same reconciliation reference"
    AMOUNT = "amount", "Opposite amounts, oldest first"
    SUBSET = "subset", "One line settles several (same counterparty)"
    MANUAL = "manual", "Manual"
    REVERSAL = "reversal", "Write-off and its reversal"


class Reconciliation(models.Model):
    """One reconciliation code: lines that cancel out, with the write-off line if there was a difference.

    The code is derived from the id (``R000042``), so bulk inserts need no second unique index."""

    # The foreign keys below are checked by the services that write them. A million-row INSERT ... SELECT
    # with PostgreSQL's per-row foreign-key triggers and an index per column costs more than the matching
    # itself, so the bulk-written columns carry no database constraint and no index: lists read the
    # primary key backwards (newest first) and filter.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    reconciled_on = models.DateField()
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    basis = models.CharField(max_length=20, choices=Basis.choices)
    basis_key = models.CharField(max_length=200, blank=True, help_text="The reference or counterparty that grouped the lines.")
    line_ids = ArrayField(models.BigIntegerField(), help_text="The code's lines, top-down; a write-off line comes last.")
    write_off_amount = models.DecimalField(**MONEY, default=ZERO, help_text="Signed amount written off (debit positive).")
    # DO_NOTHING: these columns have no index, and deleting a journal line must not scan this table.
    write_off_entry = models.ForeignKey(
        JournalEntry, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    write_off_line = models.ForeignKey(
        JournalLine, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    discrepancy_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        return code_for(self.pk) if self.pk else ""


def code_for(pk: int) -> str:
    return f"R{pk:06d}"


def id_for_code(code: str) -> int | None:
    code = (code or "").strip().upper()
    digits = code[1:] if code.startswith("R") else code
    return int(digits) if digits.isdigit() else None


class ReconciledLine(models.Model):
    """A journal line that is reconciled. The line id is the primary key: one reconciliation per line,
    and two users reconciling the same line cannot both commit."""

    line = models.OneToOneField(
        JournalLine, primary_key=True, on_delete=models.PROTECT, related_name="reconciled", db_constraint=False
    )  # PROTECT: editing or deleting a reconciled entry is refused until the reconciliation is deleted (LR6)
    # Deleting a reconciliation deletes its links by line id (the primary key), see reconciliation_delete.
    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.DO_NOTHING, related_name="links", db_constraint=False, db_index=False
    )

    def __str__(self) -> str:
        return f"line {self.line_id} in {code_for(self.reconciliation_id)}"


class Proposal(models.Model):
    """An automatic reconciliation proposal (LR3), kept so the user can tick and untick whole groups."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        APPLYING = "applying", "Applying"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BUILDING)
    selection = models.JSONField(default=dict, blank=True, help_text="The filter or line ids the proposal was asked for.")
    candidate_count = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Proposal {self.pk} for {self.account}"


class ProposalGroup(models.Model):
    """One proposed code: its lines, why they were grouped, how sure the matcher is.

    Keyed by (proposal, number): one index and no sequence, for hundreds of thousands of rows per
    proposal. (Django admin does not handle composite keys; groups are shown on the proposal page.)"""

    pk = models.CompositePrimaryKey("proposal", "number")
    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, related_name="groups", db_constraint=False, db_index=False
    )  # the primary key (proposal, number) serves lookups by proposal
    number = models.PositiveIntegerField()
    basis = models.CharField(max_length=20, choices=Basis.choices)
    basis_key = models.CharField(max_length=200, blank=True)
    confidence = models.PositiveSmallIntegerField(help_text="Percent.")
    line_ids = ArrayField(models.BigIntegerField())
    line_count = models.PositiveIntegerField()
    gross = models.DecimalField(**MONEY, help_text="Sum of the debits in the group.")
    difference = models.DecimalField(**MONEY, default=ZERO, help_text="Balance of the lines, written off if not zero.")
    last_line_id = models.BigIntegerField(help_text="The code's last line: the difference is allocated to its account (LR4).")
    last_account_id = models.BigIntegerField()
    included = models.BooleanField(default=True)

    class Meta:
        ordering = ["proposal_id", "number"]

    def __str__(self) -> str:
        return f"group {self.number} of proposal {self.proposal_id}"

    @property
    def reason(self) -> str:
        if self.basis == Basis.REFERENCE:
            why = f"Same reconciliation reference “{self.basis_key}”"
            if self.difference:
                why += f"; difference {self.difference} is within the permitted difference and is written off on the last line"
            return why + "."
        if self.basis == Basis.AMOUNT:
            why = f"Opposite amounts of {self.gross} without reference, paired oldest entry date first"
            return f"{why} ({self.basis_key})." if self.basis_key else f"{why}."
        if self.basis == Basis.SUBSET:
            return (
                f"One line settles {self.line_count - 1} lines of the same counterparty “{self.basis_key}” "
                f"within the date window, summing exactly to {self.gross}: check before finishing."
            )
        return self.get_basis_display()
