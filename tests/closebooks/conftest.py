import pytest
from freezegun import freeze_time

# The close tests run on 2026-05-10: February to April have ended, May is the current month.
TODAY = "2026-05-10 12:00:00"


@pytest.fixture
def frozen():
    with freeze_time(TODAY):
        yield
