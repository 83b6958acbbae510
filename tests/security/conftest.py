import pytest
from django.test import Client

from tests.security.world import MEMBER_ROLES, world_module_fixture

world = pytest.fixture(scope="module")(world_module_fixture)


@pytest.fixture
def clients(world, db):
    """role -> a test client signed in as that role's user (anonymous: signed out)."""
    made = {}
    for role, user in world.users.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        made[role] = client
    return made


__all__ = ["MEMBER_ROLES", "clients", "world"]
