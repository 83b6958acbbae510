"""The checklist pages (issue 20 items 1 and 2): the period page by owner and state with late
tasks highlighted, the task page's sign-offs through the forms, My tasks, the close overview's
days-to-close chart and late tasks; another company's task is not found."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from closebooks.checklist.models import ChecklistTask, TaskAttachment, TaskTemplate
from closebooks.models import Period
from ledger.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def march(company, team, task_template, start_checklist):
    accruals = task_template("Accruals", due_day=2)
    task_template("Bank reconciliation", due_day=3, preparer=team["reviewer"], reviewer=team["preparer"])
    task_template("Flux review", due_day=30, depends_on=[accruals])  # due 2026-05-12: not late on 2026-05-10
    return start_checklist("2026-03")


def _url(name, company, **kwargs):
    return reverse(f"checklist:{name}", kwargs={"slug": company.slug, **kwargs})


def test_period_page_groups_by_owner_and_state_and_marks_late_ones(client, company, team, march):
    client.force_login(team["viewer"])
    page = client.get(_url("period", company, period="2026-03"))
    assert page.status_code == 200
    groups = page.context["groups"]
    assert list(groups) == ["pat", "rey", "closebooks (automatic)"]
    assert [t.name for t in groups["pat"]["open"]] == ["Accruals", "Flux review"]
    assert [t.name for t in groups["rey"]["open"]] == ["Bank reconciliation"]
    html = page.content.decode()
    # Accruals was due 2026-04-02: late; Flux review is due 2026-05-12: not yet
    late = {t.name for t in page.context["tasks"] if t.late}
    assert "Accruals" in late and "Flux review" not in late
    assert html.count('class="late"') == page.context["late"] >= 2


def test_prepare_with_attachment_then_review_through_the_pages(client, company, team, march):
    task = ChecklistTask.objects.get(name="Accruals")
    client.force_login(team["preparer"])
    upload = SimpleUploadedFile("accruals.xlsx", b"PK\x03\x04 workbook", content_type="application/vnd.ms-excel")
    response = client.post(
        _url("task_prepare", company, period="2026-03", pk=task.pk), {"note": "Three accruals", "files": [upload]}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == "prepared" and task.prepared_note == "Three accruals"
    attachment = TaskAttachment.objects.get(task=task)
    download = client.get(_url("attachment", company, pk=attachment.pk))
    assert download.status_code == 200 and download.content == b"PK\x03\x04 workbook"
    assert download["Content-Disposition"] == 'attachment; filename="accruals.xlsx"'

    # the preparer cannot review; the page says why and nothing moves
    refused = client.post(_url("task_review", company, period="2026-03", pk=task.pk), {"note": ""})
    assert refused.status_code == 400 and "Only the task&#x27;s reviewer (rey) can review it." in refused.content.decode()
    client.force_login(team["reviewer"])
    page = client.get(_url("task", company, period="2026-03", pk=task.pk)).content.decode()
    assert 'id="review-task"' in page and 'id="prepare-task"' not in page
    assert client.post(_url("task_review", company, period="2026-03", pk=task.pk), {"note": "ok"}).status_code == 302
    task.refresh_from_db()
    assert task.state == "done"
    history = client.get(_url("task", company, period="2026-03", pk=task.pk)).context["history"]
    assert [e["action"] for e in history] == ["checklist_task.prepared", "checklist_task.reviewed", "checklist_task.done"]


def test_send_back_without_a_reason_is_refused_on_the_form(client, company, team, march):
    task = ChecklistTask.objects.get(name="Accruals")
    client.force_login(team["preparer"])
    client.post(_url("task_prepare", company, period="2026-03", pk=task.pk), {"note": ""})
    client.force_login(team["reviewer"])
    response = client.post(_url("task_send_back", company, period="2026-03", pk=task.pk), {"reason": ""})
    assert response.status_code == 400 and response.context["send_back_form"].errors["reason"]
    assert ChecklistTask.objects.get(pk=task.pk).state == "prepared"
    assert not AuditEvent.objects.filter(action="checklist_task.send_back").exists()


def test_template_form_refuses_a_loop_and_shows_it_on_the_field(client, company, team, march):
    accruals, flux = TaskTemplate.objects.get(name="Accruals"), TaskTemplate.objects.get(name="Flux review")
    client.force_login(team["manager"])
    response = client.post(
        _url("template_edit", company, pk=accruals.pk),
        {
            "name": "Accruals",
            "preparer": team["preparer"].pk,
            "reviewer": team["reviewer"].pk,
            "due_day": 2,
            "depends_on": [flux.pk],
            "active": "on",
        },
    )
    assert response.status_code == 200 and "loop" in response.context["form"].errors["depends_on"][0]
    # a non-member is not offered, and refused if posted
    response = client.post(
        _url("template_new", company),
        {"name": "Payroll", "preparer": team["outsider"].pk, "reviewer": team["reviewer"].pk, "due_day": 2},
    )
    assert response.status_code == 200 and response.context["form"].errors["preparer"]
    assert not TaskTemplate.objects.filter(name="Payroll").exists()


def test_my_tasks_lists_what_waits_for_me(client, company, team, march):
    client.force_login(team["preparer"])
    page = client.get(reverse("my_tasks"))
    assert [(t.name, t.action) for t in page.context["tasks"]] == [("Accruals", "Prepare"), ("Flux review", "Prepare")]
    bank = ChecklistTask.objects.get(name="Bank reconciliation")
    client.force_login(team["reviewer"])
    client.post(_url("task_prepare", company, period="2026-03", pk=bank.pk), {"note": "tied out"})
    client.force_login(team["preparer"])
    page = client.get(reverse("my_tasks"))
    assert ("Bank reconciliation", "Review") in [(t.name, t.action) for t in page.context["tasks"]]
    assert all(t.late for t in page.context["tasks"] if t.name != "Flux review")


def test_close_overview_charts_days_to_close_and_lists_late_tasks(client, company, team, march):
    from django.utils import timezone

    Period.objects.create(
        company=company,
        month=date(2026, 2, 1),
        state=Period.State.LOCKED,
        locked_at=timezone.make_aware(timezone.datetime(2026, 3, 5, 15, 0)),
    )
    client.force_login(team["viewer"])
    page = client.get(reverse("close:overview", kwargs={"slug": company.slug}))
    rows = {r.key: r.days for r in page.context["days_rows"]}
    assert rows["2026-02"] == 4 and rows["2026-03"] is None  # Feb 28 (Sat) → Thu Mar 5: 4 working days
    html = page.content.decode()
    assert 'data-month="2026-02"' in html and "<svg" in html
    assert [t.name for t in page.context["late_tasks"]][:2] == ["Accruals", "Bank reconciliation"]


def test_another_companys_task_is_not_found(client, company, other_company, team, march, member):
    from ledger.models import Role

    stranger = member(other_company, Role.ADMINISTRATOR)
    task = ChecklistTask.objects.get(name="Accruals")
    client.force_login(stranger)
    assert client.get(_url("task", company, period="2026-03", pk=task.pk)).status_code == 404
    attachment_url = _url("attachment", company, pk=1)
    assert client.get(attachment_url).status_code == 404
