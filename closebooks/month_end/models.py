"""An administrator's acceptance of a failing month-end check (issue 8): it lets Lock go ahead
for exactly the accepted difference. Written only by ``services.check_acceptance_create``."""

from django.conf import settings
from django.db import models

from ledger.models import MONEY, Company

from .rules import RULES


class CheckAcceptance(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="check_acceptances")
    first_day = models.DateField()
    last_day = models.DateField()
    rule = models.CharField(max_length=4, choices=sorted(RULES.items()))
    difference = models.DecimalField(**MONEY, help_text="The difference accepted; the acceptance lapses when it changes.")
    expected = models.DecimalField(**MONEY)
    actual = models.DecimalField(**MONEY)
    reason = models.TextField()
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at", "-id"]
        indexes = [models.Index(fields=["company", "first_day", "rule"], name="check_acceptance_period")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="check_acceptance_has_reason"),
            models.CheckConstraint(condition=models.Q(last_day__gte=models.F("first_day")), name="check_acceptance_period_order"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} accepted for {self.company} {self.first_day}–{self.last_day}: {self.difference}"
