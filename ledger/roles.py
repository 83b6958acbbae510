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
