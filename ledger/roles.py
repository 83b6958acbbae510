"""What each role may do, as guardian object permissions on the company (DESIGN.md, Roles)."""

from .models import Role

VIEW = "ledger.view_company"
POST = "ledger.post_entries"
RECONCILE = "ledger.reconcile_accounts"
MANAGE = "ledger.manage_company"
ADMINISTER = "ledger.administer_company"

ALL_PERMISSIONS = (VIEW, POST, RECONCILE, MANAGE, ADMINISTER)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({VIEW}),
    Role.ACCOUNTANT: frozenset({VIEW, POST, RECONCILE}),
    Role.MANAGER: frozenset({VIEW, POST, RECONCILE, MANAGE}),
    Role.ADMINISTRATOR: frozenset(ALL_PERMISSIONS),
}


def perms_on(user, company) -> frozenset[str]:
    """Every permission ``user`` holds on ``company``, as ``user.has_perm`` would answer them, in
    guardian's two queries (user and group permissions) instead of two per permission asked."""
    from guardian.core import ObjectPermissionChecker

    if not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(ALL_PERMISSIONS)
    return frozenset(f"{company._meta.app_label}.{codename}" for codename in ObjectPermissionChecker(user).get_perms(company))
