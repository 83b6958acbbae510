"""Long runs go through Celery (a real worker on real Redis): build and finish a proposal."""

from datetime import date

import pytest
from django.urls import reverse

from ledger.models import Role
from reconciliation import services
from reconciliation.models import Proposal, ReconciledLine
from reconciliation.tasks import build_proposal, finish_proposal
from tests.factories import CompanyFactory, member
from tests.reconciliation.factories import make_books


@pytest.mark.worker
def test_proposal_is_built_and_finished_by_a_real_worker(celery_worker_process, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    company = CompanyFactory()
    user = member(company, Role.ACCOUNTANT)
    books = make_books(company)
    lines = [books.post("10.00", on=date(2026, 1, 1)), books.post("-10.00", on=date(2026, 1, 2))]
    proposal = services.proposal_create(company=company, account=books.account, actor=user, task_id="")
    queue = celery_worker_process["queue"]
    result = build_proposal.apply_async(args=[proposal.pk], queue=queue)
    assert result.get(timeout=60)["status"] == Proposal.Status.READY
    # a retried build is a no-op
    assert build_proposal.apply_async(args=[proposal.pk], queue=queue).get(timeout=60)["status"] == Proposal.Status.READY
    result = finish_proposal.apply_async(args=[proposal.pk, user.pk], queue=queue)
    assert result.get(timeout=60)["status"] == Proposal.Status.FINISHED
    assert ReconciledLine.objects.filter(line_id__in=[line.pk for line in lines]).count() == 2
    assert ReconciledLine.objects.get(line_id=lines[0].pk).reconciliation.reconciled_by == user


@pytest.mark.django_db
def test_large_selections_are_sent_to_the_worker_with_progress(
    client, company, member, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.RECONCILIATION_SYNC_LINES = 1
    books = make_books(company)
    books.post("10.00"), books.post("-10.00")
    sent = []
    monkeypatch.setattr(build_proposal, "apply_async", lambda **kwargs: sent.append(kwargs))
    client.force_login(member(company, Role.ACCOUNTANT))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reconciliation:propose", args=[company.slug, books.account.pk]), {"all_matching": "1"})
    proposal = Proposal.objects.get()
    assert proposal.status == Proposal.Status.BUILDING and proposal.task_id
    assert sent == [{"args": [proposal.pk], "task_id": proposal.task_id}]
    page = client.get(response.url).content.decode()
    assert 'id="progress"' in page
    progress = client.get(reverse("reconciliation:proposal_progress", args=[company.slug, proposal.pk])).json()
    assert progress["status"] == "building"
