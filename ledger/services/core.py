"""The only writers of the books. Every service is keyword-only, runs in one transaction and
leaves an audit row (PC6). Views, admin, commands and tasks call these and show their errors."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from .. import roles
from ..exceptions import AccountError, LedgerError, MembershipError
from ..models import Account, AuditEvent, Company, Membership, Role
from ..permissions import require
from ..roles import ALL_PERMISSIONS, ROLE_PERMISSIONS

# ---------------------------------------------------------------- audit


def audit_record(
    *,
    company: Company | int,
    actor: AbstractBaseUser | None,
    action: str,
    subject: object | None = None,
    subject_type: str = "",
    subject_id: str | int = "",
    before: object = None,
    after: object = None,
    reason: str = "",
) -> AuditEvent:
    if subject is not None:
        subject_type = subject_type or type(subject).__name__
        subject_id = subject_id or getattr(subject, "pk", "")
    return AuditEvent.objects.create(
        company_id=company if isinstance(company, int) else company.pk,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=before,
        after=after,
        reason=reason,
    )


# ---------------------------------------------------------------- companies and roles


@transaction.atomic
def company_create(
    *,
    name: str,
    slug: str,
    time_zone: str = "UTC",
    base_currency: str = "USD",
    administrator: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
) -> Company:
    company = Company(name=name, slug=slug, time_zone=time_zone, base_currency=base_currency)
    _full_clean(company)
    company.save()
    audit_record(company=company, actor=actor, action="company.create", subject=company, after=_company_snapshot(company))
    if administrator is not None:  # the first administrator: nobody holds a role in a new company yet
        _membership_set_role(company=company, user=administrator, role=Role.ADMINISTRATOR, actor=actor)
    return company


@transaction.atomic
def company_update(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    name: str,
    time_zone: str,
    base_currency: str,
    years_ahead: int | None = None,
    amount_format: str | None = None,
) -> Company:
    require(actor, roles.ADMINISTER, company, what="change the company's settings")
    before = _company_snapshot(company)
    company.name, company.time_zone, company.base_currency = name, time_zone, base_currency
    if years_ahead is not None:
        company.years_ahead = years_ahead
    if amount_format is not None:
        company.amount_format = amount_format
    _full_clean(company, exclude=["slug"])
    company.save(update_fields=["name", "time_zone", "base_currency", "years_ahead", "amount_format"])
    company.__dict__.pop("tz", None)
    audit_record(
        company=company, actor=actor, action="company.update", subject=company, before=before, after=_company_snapshot(company)
    )
    return company


def _company_snapshot(company: Company) -> dict:
    return {
        "name": company.name,
        "time_zone": company.time_zone,
        "base_currency": company.base_currency,
        "years_ahead": company.years_ahead,
        "amount_format": company.amount_format,
    }


@transaction.atomic
def membership_set_role(*, company: Company, user: AbstractBaseUser, role: str, actor: AbstractBaseUser | None) -> Membership:
    """Grant ``role`` to ``user`` in ``company``: the membership row and exactly the role's
    object permissions, no more. Changing the role changes the permissions."""
    require(actor, roles.ADMINISTER, company, what="manage members")
    return _membership_set_role(company=company, user=user, role=role, actor=actor)


def _membership_set_role(*, company: Company, user: AbstractBaseUser, role: str, actor: AbstractBaseUser | None) -> Membership:
    membership_validate(company=company, user=user, role=role)
    membership = Membership.objects.select_for_update().filter(company=company, user=user).first()
    before = membership.role if membership else None
    if membership is None:
        membership = Membership.objects.create(company=company, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    wanted = ROLE_PERMISSIONS[role]
    for perm in ALL_PERMISSIONS:
        if perm in wanted:
            assign_perm(perm, user, company)
        else:
            remove_perm(perm, user, company)
    if before != role:
        audit_record(
            company=company,
            actor=actor,
            action="membership.set_role",
            subject=membership,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": role},
        )
    return membership


def membership_validate(*, company: Company, user: AbstractBaseUser, role: str) -> None:
    """The membership rules a form can check before saving; ``membership_set_role`` checks them again."""
    if role not in ROLE_PERMISSIONS:
        raise MembershipError(f"Unknown role “{role}”. Choose one of: {', '.join(Role.values)}.", field="role")
    current = Membership.objects.filter(company=company, user=user).first()
    if current is not None and current.role != role:
        _ensure_an_administrator_remains(company, leaving=current)


@transaction.atomic
def membership_remove(*, membership: Membership, actor: AbstractBaseUser | None) -> None:
    require(actor, roles.ADMINISTER, membership.company_id, what="manage members")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _ensure_an_administrator_remains(membership.company, leaving=membership)
    for perm in ALL_PERMISSIONS:
        remove_perm(perm, membership.user, membership.company)
    audit_record(
        company=membership.company,
        actor=actor,
        action="membership.remove",
        subject=membership,
        before={"user": membership.user.get_username(), "role": membership.role},
    )
    membership.delete()


def _ensure_an_administrator_remains(company: Company, *, leaving: Membership) -> None:
    if leaving.role != Role.ADMINISTRATOR:
        return
    others = Membership.objects.filter(company=company, role=Role.ADMINISTRATOR).exclude(pk=leaving.pk)
    if not others.exists():
        raise MembershipError(f"{company} must keep at least one administrator.", field="role")


# ---------------------------------------------------------------- chart of accounts


@transaction.atomic
def account_save(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    account: Account | None = None,
    code: str,
    name: str,
    type: str,  # noqa: A002 - the model's field name
    blocked: bool = False,
    reconcilable: bool = False,
    reconcile_with: Account | None = None,
) -> Account:
    """Create (``account=None``) or change an account of ``company``."""
    require(actor, roles.MANAGE, company, what="change the chart of accounts")
    is_new = account is None
    account = account or Account(company=company)
    if account.company_id != company.pk:
        raise AccountError(f"Account {account} belongs to another company.", field="code")
    before = None if is_new else _account_snapshot(account)
    account_validate(company=company, account=account, code=code, reconcile_with=reconcile_with)
    account.code, account.name, account.type = code.strip(), name.strip(), type
    account.blocked, account.reconcilable, account.reconcile_with = blocked, reconcilable, reconcile_with
    _full_clean(account)
    account.save()
    audit_record(
        company=company,
        actor=actor,
        action="account.create" if is_new else "account.update",
        subject=account,
        before=before,
        after=_account_snapshot(account),
    )
    return account


def account_validate(*, company: Company, account: Account | None, code: str, reconcile_with: Account | None) -> None:
    """The account rules a form can check before saving; ``account_save`` checks them again."""
    code = (code or "").strip()
    if not code:
        raise AccountError("An account needs a code.", field="code")
    clash = Account.objects.filter(company=company, code=code)
    if account is not None and account.pk:
        clash = clash.exclude(pk=account.pk)
    if clash.exists():
        raise AccountError(f"Account code {code} is already used in {company}.", field="code")
    if reconcile_with is not None:
        if reconcile_with.company_id != company.pk:
            raise AccountError(
                "An account can only be reconciled against an account of the same company.", field="reconcile_with"
            )
        if account is not None and account.pk and reconcile_with.pk == account.pk:
            raise AccountError("An account cannot be reconciled against itself.", field="reconcile_with")


def _account_snapshot(account: Account) -> dict:
    return {
        "code": account.code,
        "name": account.name,
        "type": account.type,
        "blocked": account.blocked,
        "reconcilable": account.reconcilable,
        "reconcile_with": account.reconcile_with_id,
    }



def _full_clean(instance, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise LedgerError(" ".join(messages), field=None if field == "__all__" else field) from None


__all__ = [
    "account_save",
    "account_validate",
    "audit_record",
    "company_create",
    "company_update",
    "membership_remove",
    "membership_set_role",
    "membership_validate",
]
