"""Writers of the month-end app: an administrator accepts a failing check with a reason (audited)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ledger import roles
from ledger.exceptions import LedgerError
from ledger.locks import company_lock
from ledger.models import Company
from ledger.permissions import require
from ledger.services import audit_record

from .checks import run_check
from .models import CheckAcceptance
from .rules import RULES


class CheckAcceptanceError(LedgerError):
    pass


@transaction.atomic
def check_acceptance_create(
    *, company: Company, rule: str, first_day: date, last_day: date, reason: str, actor: AbstractBaseUser
) -> CheckAcceptance:
    """Accept the current difference of a failing check for a period, so Lock may go ahead.
    Only an administrator may, only with a reason, only for a check that fails now."""
    if rule not in RULES:
        raise CheckAcceptanceError(f"Unknown check “{rule}”.", field="rule")
    # Accepting a difference is a person's judgement: the system never does it.
    require(actor, roles.ADMINISTER, company, what="accept a failing check", system=False)
    reason = (reason or "").strip()
    if not reason:
        raise CheckAcceptanceError("Say why the difference is accepted.", field="reason")
    if last_day < first_day:
        raise CheckAcceptanceError("The period ends before it starts.")
    company_lock(company.pk)  # the figures cannot move between the check and the acceptance
    result = run_check(company, rule, first_day, last_day)
    if result.passed:
        raise CheckAcceptanceError(f"{rule} {result.title} passes; there is nothing to accept.")
    acceptance = CheckAcceptance.objects.create(
        company=company,
        first_day=first_day,
        last_day=last_day,
        rule=rule,
        difference=result.difference,
        expected=result.expected,
        actual=result.actual,
        reason=reason,
        accepted_by=actor,
    )
    audit_record(
        company=company,
        actor=actor,
        action="month_end.check_accept",
        subject=acceptance,
        after={
            "rule": rule,
            "period": [first_day.isoformat(), last_day.isoformat()],
            "expected": str(result.expected),
            "actual": str(result.actual),
            "difference": str(result.difference),
        },
        reason=reason,
    )
    return acceptance
