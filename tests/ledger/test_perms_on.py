"""``roles.perms_on``: the pages ask for all of a user's permissions on a company at once
(two queries instead of two per button); it must answer exactly as ``user.has_perm`` does."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import roles
from ledger.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(Role))
def test_perms_on_agrees_with_has_perm_for_every_role(company, other_company, role):
    user = factories.member(company, role)
    with CaptureQueriesContext(connection) as ctx:
        perms = roles.perms_on(user, company)
    assert len(ctx.captured_queries) <= 2
    assert perms == {p for p in roles.ALL_PERMISSIONS if user.has_perm(p, company)} == roles.ROLE_PERMISSIONS[role]
    assert roles.perms_on(user, other_company) == frozenset()  # no role there: nothing


def test_inactive_users_hold_nothing_and_superusers_everything(company):
    user = factories.member(company, Role.ADMINISTRATOR)
    user.is_active = False
    assert roles.perms_on(user, company) == frozenset() and not user.has_perm(roles.VIEW, company)
    boss = factories.UserFactory(is_superuser=True)
    assert roles.perms_on(boss, company) == frozenset(roles.ALL_PERMISSIONS)
