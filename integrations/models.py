"""Connections to accounting systems, their charts of accounts and account mappings, the outbox of
journal entries to push, and sync runs. Rows only; every write goes through ``integrations.services``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.models import Account, Company, JournalEntry

from .crypto import EncryptedTextField


class Connection(models.Model):
    """A company's link to one accounting system (IN2). Tokens are encrypted at rest and never shown."""

    class Provider(models.TextChoices):
        QBO = "qbo", "QuickBooks Online"
        XERO = "xero", "Xero"
        INTACCT = "intacct", "Sage Intacct"
        NETSUITE = "netsuite", "Oracle NetSuite"
        QBD = "qbd", "QuickBooks Desktop"

    class Status(models.TextChoices):
        ACTIVE = "active", "Connected"
        BROKEN = "broken", "Needs reconnecting"
        DISCONNECTED = "disconnected", "Disconnected"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="connections")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    tenant_id = models.CharField(
        max_length=100, help_text="QuickBooks realmId, Xero tenantId, Sage Intacct company id or NetSuite account id."
    )
    tenant_name = models.CharField(max_length=200, blank=True)
    # The vendor's URLs as they were when the connection was made (a fake vendor in tests and the demo).
    authorize_url = models.URLField(max_length=500)
    token_url = models.URLField(max_length=500)
    api_base_url = models.URLField(max_length=500)
    connections_url = models.URLField(max_length=500, blank=True)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField()
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    remote_version = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    remote_closed_date = models.DateField(null=True, blank=True, help_text="The closed date last pulled from the vendor (BC7).")
    closed_date_pulled_at = models.DateTimeField(null=True, blank=True)
    accounts_pulled_at = models.DateTimeField(null=True, blank=True)
    inbound_pulled_at = models.DateTimeField(null=True, blank=True, help_text="Inbound transactions are pulled from here on.")
    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    connected_at = models.DateTimeField(auto_now_add=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["company__name", "-connected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=~Q(status="disconnected"), name="connection_one_live_per_company"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} · {self.tenant_name or self.tenant_id} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ConnectionEntity(models.Model):
    """An entity (Sage Intacct location) of a connection made at the top level of a multi-entity
    company, with its own closed date (BC9). Sage Intacct has no API that returns the date, so the
    date closebooks applies to the entity's documents is the later of two, each shown as what it is:
    the date a person entered, and the latest date Sage Intacct refused as "Periods are closed"."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="entities")
    external_id = models.CharField(max_length=100, help_text="The entity's location id.")
    name = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True, help_text="False when no longer listed by the vendor.")
    manual_closed_date = models.DateField(null=True, blank=True, help_text="Closed through, as entered in closebooks.")
    rejected_through = models.DateField(
        null=True, blank=True, help_text="The latest entry date the vendor refused as in a closed period."
    )
    api_closed_date = models.DateField(null=True, blank=True, help_text="Closed through, as read from the vendor's API.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="connection_entity_unique")]

    def __str__(self) -> str:
        return f"{self.external_id} {self.name}".strip()

    @property
    def closed_through(self):
        dates = [d for d in (self.manual_closed_date, self.rejected_through, self.api_closed_date) if d is not None]
        return max(dates) if dates else None

    @property
    def closed_source(self) -> str:
        """Which of the dates is applied, in words for the page."""
        closed = self.closed_through
        if closed is None:
            return "No closed date"
        if closed == self.api_closed_date:
            return "Read from the accounting system's API"
        if closed == self.manual_closed_date:
            return "Entered in closebooks"
        return "Learned from the accounting system's “Periods are closed” refusal"


class ExternalAccount(models.Model):
    """An account of the vendor's chart, as last pulled (IN3)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="external_accounts")
    external_id = models.CharField(max_length=100)
    number = models.CharField(max_length=50, blank=True)
    name = models.CharField(max_length=300)
    type = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True, help_text="False when archived (inactive) in the vendor.")
    pulled_at = models.DateTimeField()

    class Meta:
        ordering = ["number", "name"]
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="external_account_unique")]

    def __str__(self) -> str:
        label = f"{self.number} {self.name}".strip()
        return label if self.active else f"{label} (archived)"


class AccountMapping(models.Model):
    """Local account -> external account on one connection. No row: the account is unmapped (PC2)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="mappings")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    external_account = models.ForeignKey(ExternalAccount, on_delete=models.CASCADE, related_name="mappings")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "account"], name="mapping_one_per_account")]

    def __str__(self) -> str:
        return f"{self.account} → {self.external_account}"


class SyncRun(models.Model):
    """One push of journal entries (or one pull) to or from a connection; pages poll its progress."""

    class Kind(models.TextChoices):
        PUSH = "push", "Push journal entries"
        CLOSED_DATE = "closed_date", "Pull closed date"
        INBOUND = "inbound", "Pull inbound transactions"
        ACCOUNTS = "accounts", "Pull chart of accounts"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with errors"
        FAILED = "failed", "Failed"

    FINISHED = frozenset({Status.SUCCEEDED, Status.PARTIAL, Status.FAILED})

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="sync_runs")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PUSH)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    entity = models.ForeignKey(
        ConnectionEntity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text="The entity the pushed entries belong to (multi-entity connections, BC9).",
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "status"], name="syncrun_connection_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return int(100 * (self.done + self.failed) / self.total) if self.total else 0


class SyncIssue(models.Model):
    """A per-entry error (or a whole-run error) on a sync run: shown, never dropped (IN4, BC6)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="issues")
    entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    code = models.CharField(max_length=40)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.code}: {self.message[:80]}"


class OutboxEntry(models.Model):
    """One local journal entry to hold exactly once at the vendor (IN4).

    ``request_key`` is the idempotency key of the request that carries the entry; it is stored
    (and committed) before the first send and reused on every retry, so a replay returns the
    vendor's original answer instead of a second entry. Rows sent together share the key.
    ``pending_version`` is the entry's ``updated_at`` when the key was assigned; on success it
    becomes ``synced_version``. An entry whose ``updated_at`` moved since is synced again (an
    update of the same external entry, never a second one)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to sync"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="outbox")
    entry = models.ForeignKey(JournalEntry, null=True, on_delete=models.SET_NULL, related_name="outbox_rows")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox_rows")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    request_key = models.CharField(max_length=64, blank=True)
    pending_version = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True, help_text="Exactly what was sent under request_key, resent on retry.")
    synced_version = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    external_version = models.CharField(max_length=50, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["connection", "entry"], name="outbox_one_row_per_entry")]
        indexes = [
            models.Index(fields=["run", "state", "request_key"], name="outbox_run_state_key"),
            # Lock's sync prerequisite (PC4): the versions the vendor holds, from the index alone.
            models.Index(
                fields=["connection", "entry"],
                include=["synced_version"],
                condition=Q(state="synced"),
                name="outbox_synced_versions",
            ),
        ]

    def __str__(self) -> str:
        return f"JE-{self.entry_id} → {self.external_id or '(not yet)'} [{self.state}]"


class InboundRecord(models.Model):
    """A transaction made in the accounting system and pulled in (IN6, BC6): imported once as a
    journal entry, or rejected with the reason (shown on its run, tried again when seen again)."""

    class State(models.TextChoices):
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected"
        WAITING = "waiting", "Waiting for a mapping"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="inbound")
    kind = models.CharField(max_length=20)
    external_id = models.CharField(max_length=100)
    number = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=20, choices=State.choices)
    entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pulled_at = models.DateTimeField()
    payload = models.JSONField(
        null=True,
        blank=True,
        help_text="The transaction as pulled, kept while it waits for a mapping; posted from it once mapped.",
    )

    class Meta:
        ordering = ["-pulled_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "kind", "external_id"], name="inbound_once_per_transaction")]

    def __str__(self) -> str:
        return f"{self.kind} {self.number or self.external_id} [{self.state}]"


class ExternalItem(models.Model):
    """An item of the vendor's item list (QuickBooks Desktop ``ItemQueryRq``) and the income account
    it posts sales to: an inbound invoice line names the item, the item names the account."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="external_items")
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True)
    type = models.CharField(max_length=60, blank=True)
    income_account_id = models.CharField(
        max_length=100, blank=True, help_text="The external income account (ListID); blank: none."
    )
    active = models.BooleanField(default=True)
    pulled_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="external_item_unique")]

    def __str__(self) -> str:
        return self.name or self.external_id


class QbdRequest(models.Model):
    """One qbXML request queued for QuickBooks Desktop's Web Connector, sent on its next poll
    (``sendRequestXML``) and answered through ``receiveResponseXML``. A request marked sent whose
    answer never came may have been carried out: before an entry is sent again it is looked up
    by RefNumber (QuickBooks Desktop has no server-side deduplication)."""

    class Kind(models.TextChoices):
        JOURNAL_ENTRY_ADD = "journal_entry_add", "JournalEntryAddRq"
        JOURNAL_ENTRY_QUERY = "journal_entry_query", "JournalEntryQueryRq (lost answer check)"
        ACCOUNT_QUERY = "account_query", "AccountQueryRq"
        PREFERENCES_QUERY = "preferences_query", "PreferencesQueryRq (ClosingDate)"
        ITEM_QUERY = "item_query", "ItemQueryRq (item → income account)"
        INBOUND_JOURNAL_QUERY = "inbound_journal_query", "JournalEntryQueryRq (inbound)"
        INVOICE_QUERY = "invoice_query", "InvoiceQueryRq (inbound)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued for the next poll"
        SENT = "sent", "Sent, no answer yet"
        DONE = "done", "Answered"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="qbd_requests")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.CASCADE, related_name="qbd_requests")
    outbox = models.ForeignKey(OutboxEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="qbd_requests")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    request_id = models.CharField(max_length=50, unique=True)
    ref_number = models.CharField(max_length=11, blank=True)
    qbxml = models.TextField()
    ticket = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.CharField(max_length=10, blank=True)
    status_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["connection", "state"], name="qbdrequest_connection_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.request_id} [{self.state}]"


class QbdSession(models.Model):
    """One Web Connector session (a ticket from ``authenticate``): its version, progress and the
    last error ``getLastError`` reports."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="qbd_sessions")
    ticket = models.CharField(max_length=64, unique=True)
    client_version = models.CharField(max_length=50, blank=True)
    company_file = models.CharField(max_length=500, blank=True)
    sent = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Web Connector session {self.ticket[:8]}… ({self.answered} answered)"


class QbdClientVersion(models.Model):
    """The version a Web Connector reported in ``clientVersion``, kept in the database until its
    ``authenticate`` (the next call, possibly served by another web process) reads it."""

    client = models.CharField(max_length=100, unique=True, help_text="The Web Connector's address.")
    version = models.CharField(max_length=50, blank=True)
    reported_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.client}: {self.version}"
