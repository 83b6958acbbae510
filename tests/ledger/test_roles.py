"""Roles of DESIGN.md as guardian object permissions, granted by one service."""

import pytest

from ledger import roles, services
from ledger.exceptions import MembershipError
from ledger.models import AuditEvent, Membership, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    Role.VIEWER: {roles.VIEW},
    Role.ACCOUNTANT: {roles.VIEW, roles.POST, roles.RECONCILE},
    Role.MANAGER: {roles.VIEW, roles.POST, roles.RECONCILE, roles.MANAGE},
    Role.ADMINISTRATOR: {roles.VIEW, roles.POST, roles.RECONCILE, roles.MANAGE, roles.ADMINISTER},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("perm", roles.ALL_PERMISSIONS)
def test_each_role_holds_exactly_its_permissions(company, other_company, member, role, perm):
    user = member(company, role)
    assert user.has_perm(perm, company) is (perm in EXPECTED[role])
    assert user.has_perm(perm, other_company) is False  # a role is per company


def test_changing_a_role_changes_the_permissions_and_is_audited(company, member):
    member(company, Role.ADMINISTRATOR)  # someone else stays administrator
    user = member(company, Role.MANAGER)
    assert user.has_perm(roles.MANAGE, company)
    services.membership_set_role(company=company, user=user, role=Role.VIEWER, actor=None)
    user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    assert not user.has_perm(roles.MANAGE, company) and not user.has_perm(roles.POST, company)
    assert user.has_perm(roles.VIEW, company)
    event = AuditEvent.objects.filter(action="membership.set_role").latest("id")
    assert (event.before["role"], event.after["role"]) == ("manager", "viewer")


def test_setting_the_same_role_twice_changes_nothing(company, member):
    user = member(company, Role.ACCOUNTANT)
    count = AuditEvent.objects.count()
    services.membership_set_role(company=company, user=user, role=Role.ACCOUNTANT, actor=None)
    assert AuditEvent.objects.count() == count and Membership.objects.filter(user=user).count() == 1


def test_the_last_administrator_cannot_be_demoted_or_removed(company, member):
    admin = member(company, Role.ADMINISTRATOR)
    with pytest.raises(MembershipError, match="at least one administrator"):
        services.membership_set_role(company=company, user=admin, role=Role.VIEWER, actor=None)
    with pytest.raises(MembershipError):
        services.membership_remove(membership=Membership.objects.get(user=admin), actor=None)
    admin = type(admin).objects.get(pk=admin.pk)
    assert admin.has_perm(roles.ADMINISTER, company)


def test_removing_a_member_takes_every_permission_away(company, member):
    member(company, Role.ADMINISTRATOR)
    user = member(company, Role.MANAGER)
    services.membership_remove(membership=Membership.objects.get(user=user), actor=None)
    user = type(user).objects.get(pk=user.pk)
    assert not any(user.has_perm(perm, company) for perm in roles.ALL_PERMISSIONS)


def test_unknown_role_is_refused(company):
    with pytest.raises(MembershipError, match="Unknown role"):
        services.membership_set_role(company=company, user=UserFactory(), role="owner", actor=None)
    assert not Membership.objects.exists()
