"""When the database stays away past the retries (issue 9 part 5): the task stops retrying and
says so where the user looks: the sync run fails with the reason (IN4); the reconciliation
proposal keeps the message and nothing is reconciled (LR3)."""

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from common.db_retry import DB_MAX_RETRIES, database_backoff
from integrations import services as integration_services
from integrations import tasks as integration_tasks
from integrations.models import SyncRun
from ledger.models import Role
from reconciliation import services as reconciliation_services
from reconciliation import tasks as reconciliation_tasks
from reconciliation.models import Proposal, ReconciledLine
from tests.factories import member
from tests.integrations.factories import post_entries
from tests.reconciliation.factories import make_books

pytestmark = pytest.mark.django_db


def down(**kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_backoff_grows_and_is_capped():
    assert [database_backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_sync_whose_database_stays_away_fails_with_the_reason(company, connected, monkeypatch):
    post_entries(company, 3)
    run = integration_services.sync_run_start(company=company, actor=None, enqueue=False)
    monkeypatch.setattr(integration_services, "sync_run_execute", down)
    result = integration_tasks.push_run.apply(args=[run.pk], retries=DB_MAX_RETRIES)
    assert result.get() == SyncRun.Status.FAILED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "database stayed unavailable" in run.error


def test_a_sync_meeting_a_database_error_is_retried_not_failed(company, connected, monkeypatch):
    post_entries(company, 3)
    run = integration_services.sync_run_start(company=company, actor=None, enqueue=False)
    monkeypatch.setattr(integration_services, "sync_run_execute", down)
    with pytest.raises(Retry):  # scheduled again in 1 s (eager tasks raise it)
        integration_tasks.push_run.apply(args=[run.pk], retries=0, throw=True)
    run.refresh_from_db()
    assert not run.is_finished


def test_a_finish_whose_database_stays_away_records_why_and_reconciles_nothing(company, monkeypatch):
    user = member(company, Role.ACCOUNTANT)
    books = make_books(company)
    books.post("10.00"), books.post("-10.00")
    proposal = reconciliation_services.proposal_build(
        proposal=reconciliation_services.proposal_create(company=company, account=books.account, actor=user, task_id="")
    )
    monkeypatch.setattr(reconciliation_tasks, "proposal_finish", down)
    result = reconciliation_tasks.finish_proposal.apply(args=[proposal.pk, user.pk], retries=DB_MAX_RETRIES)
    assert result.get()["status"] == "failed"
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.READY and "database stayed unavailable" in proposal.error
    assert not ReconciledLine.objects.exists()
