"""The one permission check. Every service that takes an ``actor`` calls :func:`require` before it
changes anything; views and admin show its refusal and never decide on their own.

``actor=None`` is the system: a Celery task, a migration, a management command, the close
wizard's own steps. It holds every permission, except where a service passes
``system=False`` because the decision must be a person's (accepting a failing check)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from .exceptions import PermissionRefusedError
from .models import Company, Role
from .roles import ADMINISTER, ALL_PERMISSIONS, MANAGE, POST, RECONCILE, ROLE_PERMISSIONS, VIEW

SYSTEM = None  # the actor of tasks, migrations and commands: spelled out where a service is called for the system

# What a permission lets a person do, for refusals that do not say more.
_DOING = {
    VIEW: "see this company",
    POST: "create or change documents and journal entries",
    RECONCILE: "reconcile accounts",
    MANAGE: "manage the books-closed date, periods, syncs and mappings",
    ADMINISTER: "administer this company",
}


def roles_with(permission: str) -> list[str]:
    """The roles holding ``permission``, most powerful first (as the role table lists them)."""
    return [role.label.lower() for role in Role if permission in ROLE_PERMISSIONS[role]]


def _who(permission: str) -> str:
    names = [f"an {name}" if name[0] in "aeiou" else f"a {name}" for name in roles_with(permission)]
    if len(names) <= 1:
        return names[0] if names else "nobody"
    return ", ".join(names[:-1]) + " or " + names[-1]


def allowed(actor: AbstractBaseUser | None, permission: str, company: Company | int) -> bool:
    """Whether ``actor`` may use ``permission`` on ``company``; the system (``None``) may."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}.")
    if actor is None:
        return True
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if not isinstance(company, Company):
        company = Company.objects.get(pk=company)
    return actor.has_perm(permission, company)


def require(
    actor: AbstractBaseUser | None,
    permission: str,
    company: Company | int,
    *,
    what: str = "",
    system: bool = True,
) -> None:
    """Refuse with :class:`PermissionRefusedError` unless ``actor`` holds ``permission`` on
    ``company``. ``what`` completes "Only ... can <what>." in the message. ``actor=None`` is the
    system and passes, unless ``system=False`` (a decision only a person may take)."""
    doing = what or _DOING[permission]
    if actor is None:
        if system:
            return
        raise PermissionRefusedError(f"Only a person can {doing}: sign in as {_who(permission)} of the company.")
    if not allowed(actor, permission, company):
        raise PermissionRefusedError(f"Only {_who(permission)} can {doing}.", permission=permission)


__all__ = ["SYSTEM", "allowed", "require", "roles_with"]
