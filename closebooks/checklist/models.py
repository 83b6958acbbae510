"""The close checklist (CL1, CL2): a company's template of tasks, and each period's copy of it.

A period's checklist is created from the template when the period ends. Custom tasks move
open → prepared → reviewed → done (or back to open with a reason); the built-in steps of the
wizard (Review, Sync, Lock) complete themselves. Every write goes through ``services``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.models import Company


class Builtin(models.TextChoices):
    REVIEW = "review", "Review the period and its month-end checks"
    SYNC = "sync", "Sync journal entries"
    REVALUATION = "revaluation", "Revalue foreign-currency balances"
    LOCK = "lock", "Lock the period"


# Built-in steps closebooks completes by itself; the others (revaluation, while closebooks has no
# revaluation service) are signed off like the company's own tasks.
SELF_COMPLETING = frozenset({Builtin.REVIEW, Builtin.SYNC, Builtin.LOCK})
# Built-ins whose condition Lock already lists as its own blockers (flags, checks, sync): not listed twice.
COVERED_BY_LOCK = frozenset({Builtin.REVIEW, Builtin.SYNC, Builtin.LOCK})

# Product pages a task may link to: key -> (label, URL name, takes the period).
LINKS = {
    "review": ("Review (close wizard)", "close:review", True),
    "sync": ("Sync journal entries", "close:sync", True),
    "lock": ("Lock period", "close:lock", True),
    "month_end": ("Month-end checks", "month_end:index", False),
    "reconcile": ("Reconcile accounts", "reconciliation:index", False),
    "journal": ("Journal", "ledger:journal", False),
    "invoices": ("Invoices", "ledger:invoices", False),
    "bills": ("Bills", "ledger:bills", False),
    "mappings": ("Account mappings", "integrations:mappings", False),
    "accounting": ("Accounting settings", "ledger:accounting_preferences", False),
}
LINK_CHOICES = [("", "—")] + [(key, label) for key, (label, _, _) in LINKS.items()]


class TaskTemplate(models.Model):
    """One task of a company's close, copied into every period's checklist."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="task_templates")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    preparer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_day = models.PositiveSmallIntegerField(default=1, help_text="Working days after the period's end (WD+n).")
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")
    link = models.CharField(max_length=30, blank=True, choices=LINK_CHOICES)
    builtin = models.CharField(max_length=20, blank=True, choices=Builtin.choices)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company", "due_day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "builtin"], condition=~Q(builtin=""), name="tasktemplate_one_builtin"),
            models.CheckConstraint(condition=Q(due_day__gte=1) & Q(due_day__lte=60), name="tasktemplate_due_day_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (WD+{self.due_day})"


class Checklist(models.Model):
    """A period's checklist: the template as it stood when the period ended."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="checklists")
    month = models.DateField(help_text="The first day of the period's month.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["company", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["company", "month"], name="checklist_one_per_period"),
            models.CheckConstraint(condition=Q(month__day=1), name="checklist_month_is_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.company} · {self.month:%B %Y}"

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


class ChecklistTask(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        PREPARED = "prepared", "Prepared"
        REVIEWED = "reviewed", "Reviewed"
        DONE = "done", "Done"

    # The moves a person makes, as data: prepare, review, send back. Reviewed → done follows by
    # itself once every task it depends on is done; built-ins move open ↔ done by themselves.
    MOVES = {
        State.OPEN: frozenset({State.PREPARED}),
        State.PREPARED: frozenset({State.REVIEWED, State.OPEN}),
        State.REVIEWED: frozenset({State.DONE, State.OPEN}),
        State.DONE: frozenset(),
    }

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="tasks")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(TaskTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    link = models.CharField(max_length=30, blank=True, choices=LINK_CHOICES)
    builtin = models.CharField(max_length=20, blank=True, choices=Builtin.choices)
    preparer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_day = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    prepared_at = models.DateTimeField(null=True, blank=True)
    prepared_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    sent_back_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["company", "due_date"], name="checklisttask_company_due"),
            models.Index(fields=["preparer", "state"], name="checklisttask_preparer_state"),
            models.Index(fields=["reviewer", "state"], name="checklisttask_reviewer_state"),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.checklist}"

    @property
    def is_builtin(self) -> bool:
        return bool(self.builtin)

    @property
    def self_completing(self) -> bool:
        return self.builtin in SELF_COMPLETING

    def is_late(self, today) -> bool:
        return self.state != self.State.DONE and self.due_date < today


class TaskAttachment(models.Model):
    """A file the preparer attached. Kept in the database (no shared file store needed), served
    only to members of the company, always as a download."""

    MAX_BYTES = 10 * 1024 * 1024

    task = models.ForeignKey(ChecklistTask, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data = models.BinaryField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
