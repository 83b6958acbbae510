import pytest
from freezegun import freeze_time

# The close tests run on 2026-05-10: February to April have ended, May is the current month.
TODAY = "2026-05-10 12:00:00"


@pytest.fixture
def frozen():
    with freeze_time(TODAY):
        yield


@pytest.fixture
def fake_qbo():
    from integrations.fakes import FakeQuickBooksOnline

    with FakeQuickBooksOnline() as fake:
        yield fake


@pytest.fixture
def connected(db, company, fake_qbo):
    """``company`` connected to a fake QuickBooks Online, chart pulled and mapped by number."""
    from tests.integrations.factories import connect_to_fake

    return connect_to_fake(company, fake_qbo)


@pytest.fixture
def sync_period(connected):
    """sync_period(period) pushes the period's entries to the fake vendor, in this process."""
    from integrations import services

    def run(period, actor=None):
        started = services.sync_run_start(
            company=period.company, actor=actor, period_start=period.first_day, period_end=period.last_day, enqueue=False
        )
        return services.sync_run_execute(run_id=started.pk, sleep=lambda seconds: None)

    return run


@pytest.fixture
def lock(sync_period):
    """lock(period, actor): sync the period as it stands, then lock it (PC4)."""
    from closebooks.services import period_lock

    def run(period, actor):
        sync_period(period, actor)
        return period_lock(period=period, actor=actor)

    return run
