"""A Celery worker SIGKILLed mid-reconciliation (issue 9 part 5, LR3): the finish is one
transaction, so the killed attempt leaves no reconciliation behind; the message, never
acknowledged, is delivered to the next worker, which finishes the proposal. Every line ends up
reconciled exactly once."""

import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from celery.result import AsyncResult

from ledger.models import Role
from ledger.services import EntryInput, LineInput, journal_entries_post
from reconciliation import services
from reconciliation.models import Proposal, ReconciledLine, Reconciliation
from reconciliation.tasks import finish_proposal
from tests.factories import member
from tests.reconciliation.factories import make_books
from tests.worker_process import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PAIRS = 6000


def post_pairs(books, pairs: int) -> None:
    """``pairs`` invoices and their payments on the reconciled account, paired by reference."""
    entries = []
    for i in range(pairs):
        amount = Decimal(10 + i % 500) + Decimal("0.25")
        for side, day in (("debit", 0), ("credit", 3)):
            entries.append(
                EntryInput(
                    entry_date=date(2026, 1, 1) + timedelta(days=i % 25 + day),
                    memo="fault",
                    lines=[
                        LineInput(books.account.pk, reconciliation_ref=f"INV-{i}", **{side: amount}),
                        LineInput(books.counter.pk, **{"credit" if side == "debit" else "debit": amount}),
                    ],
                )
            )
    journal_entries_post(company=books.company, entries=entries, actor=None, source="import")


def test_worker_killed_mid_finish_leaves_nothing_half_written_and_the_next_worker_finishes(company):
    user = member(company, Role.ACCOUNTANT)
    books = make_books(company)
    post_pairs(books, PAIRS)
    proposal = services.proposal_create(company=company, account=books.account, actor=user, task_id="")
    proposal = services.proposal_build(proposal=proposal)
    assert proposal.status == Proposal.Status.READY
    worker = WorkerProcess(visibility_timeout=4).start()
    try:
        result = finish_proposal.apply_async(args=[proposal.pk, user.pk], queue=worker.queue)
        # PROGRESS is reported from inside the finish's transaction: kill the worker right there.
        wait_for(lambda: AsyncResult(result.id).state == "PROGRESS", timeout=120, step=0.01)
        worker.kill()
        proposal.refresh_from_db()
        assert proposal.status == Proposal.Status.READY  # not finished, and not half-finished:
        assert not Reconciliation.objects.filter(account=books.account).exists()
        assert not ReconciledLine.objects.exists()
        # The message was never acknowledged: once its visibility timeout has passed, the next
        # worker on the queue gets it again and finishes the proposal.
        time.sleep(worker.visibility_timeout + 1)
        successor = WorkerProcess(visibility_timeout=4)
        successor.queue, successor.env = worker.queue, worker.env
        successor.start()
        try:
            proposal = wait_for(
                lambda: (p := Proposal.objects.get(pk=proposal.pk)).status == Proposal.Status.FINISHED and p,
                timeout=180,
                step=0.25,
            )
        finally:
            successor.stop()
    finally:
        worker.stop()
    assert proposal.error == ""
    reconciled = ReconciledLine.objects.filter(reconciliation__account=books.account)
    assert reconciled.count() == 2 * PAIRS
    assert reconciled.values("line_id").distinct().count() == 2 * PAIRS  # each line exactly once
