"""The close workflow: a company's accounting periods and their states (PC1)."""

import calendar
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.models import Company


class Period(models.Model):
    """A calendar month of one company, in the company's time zone (PC1)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        LOCKED = "locked", "Locked"
        CLOSED = "closed", "Closed"

    # The allowed moves, as data (PC4, PC5): a closed period never moves again.
    MOVES = {
        State.OPEN: frozenset({State.LOCKED}),
        State.LOCKED: frozenset({State.OPEN, State.CLOSED}),
        State.CLOSED: frozenset(),
    }

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="periods")
    month = models.DateField(help_text="The first day of the month.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    date_before_lock = models.DateField(
        null=True, blank=True, help_text="The books-closed date before this period was locked; unlocking restores it (PC5)."
    )

    class Meta:
        ordering = ["company", "month"]
        constraints = [
            models.UniqueConstraint(fields=["company", "month"], name="period_one_per_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="period_month_is_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"

    @property
    def first_day(self) -> date:
        return self.month

    @property
    def last_day(self) -> date:
        return self.month.replace(day=calendar.monthrange(self.month.year, self.month.month)[1])

    @property
    def name(self) -> str:
        return self.month.strftime("%B %Y")

    @property
    def key(self) -> str:
        """The period in URLs: ``2026-03``."""
        return self.month.strftime("%Y-%m")
