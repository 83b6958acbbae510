"""The close checklist (CL1, CL2; issue 20 item 1): the template, each period's copy, every move
and refusal, and the audit trail of each move."""

from datetime import date

import pytest

from closebooks import selectors as close_selectors
from closebooks.checklist import services
from closebooks.checklist.exceptions import ChecklistError
from closebooks.checklist.models import Builtin, ChecklistTask, TaskTemplate
from closebooks.checklist.workdays import working_day_after, working_days_between
from closebooks.notifications.models import Notification
from ledger import services as ledger_services
from ledger.models import Account, AuditEvent
from tests.factories import AccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def _task(company, name, key="2026-03"):
    return ChecklistTask.objects.get(company=company, checklist__month=date.fromisoformat(f"{key}-01"), name=name)


def test_working_days_skip_weekends_CL1():
    # March 2026 ends on a Tuesday; April 3rd is a Friday, the 6th a Monday.
    assert working_day_after(date(2026, 3, 31), 1) == date(2026, 4, 1)
    assert working_day_after(date(2026, 3, 31), 3) == date(2026, 4, 3)
    assert working_day_after(date(2026, 3, 31), 4) == date(2026, 4, 6)
    assert working_days_between(date(2026, 3, 31), date(2026, 4, 6)) == 4
    assert working_days_between(date(2026, 3, 31), date(2026, 3, 31)) == 0


def test_a_task_assigned_to_a_non_member_is_refused_CL1(company, team, task_template):
    with pytest.raises(ChecklistError, match="not a member") as refused:
        task_template(preparer=team["outsider"])
    assert refused.value.field == "preparer"
    with pytest.raises(ChecklistError, match="not a member") as refused:
        task_template(reviewer=team["outsider"])
    assert refused.value.field == "reviewer"
    assert not TaskTemplate.objects.filter(company=company, builtin="").exists()


def test_the_reviewer_is_another_member_than_the_preparer_CL1(team, task_template):
    with pytest.raises(ChecklistError, match="another member"):
        task_template(preparer=team["preparer"], reviewer=team["preparer"])


def test_a_dependency_loop_is_refused_CL1(company, team, task_template):
    accruals = task_template("Accruals")
    payroll = task_template("Payroll", depends_on=[accruals])
    flux = task_template("Flux review", depends_on=[payroll])
    with pytest.raises(ChecklistError, match="loop") as refused:
        services.template_task_save(
            company=company,
            actor=team["manager"],
            template=accruals,
            name="Accruals",
            preparer=team["preparer"],
            reviewer=team["reviewer"],
            due_day=3,
            depends_on=[flux],
        )
    assert refused.value.field == "depends_on"
    assert "Accruals → Flux review → Payroll → Accruals" in refused.value.message
    assert not accruals.depends_on.exists()
    with pytest.raises(ChecklistError, match="itself"):
        services.template_task_save(
            company=company,
            actor=team["manager"],
            template=accruals,
            name="Accruals",
            preparer=team["preparer"],
            reviewer=team["reviewer"],
            due_day=3,
            depends_on=[accruals],
        )


def test_only_managers_change_the_template(team, task_template, company):
    with pytest.raises(ChecklistError, match="administrator or a manager"):
        services.template_task_save(
            company=company, actor=team["preparer"], name="Mine", preparer=team["preparer"], reviewer=team["reviewer"], due_day=1
        )


def test_each_ended_period_gets_the_template_with_due_working_days_CL1(company, team, task_template, start_checklist):
    services.template_builtins_ensure(company=company)
    accruals = task_template("Accruals", due_day=3)
    task_template("Flux review", due_day=4, depends_on=[accruals])
    checklist = start_checklist("2026-03")
    tasks = {t.name: t for t in checklist.tasks.all()}
    assert tasks["Accruals"].due_date == date(2026, 4, 3) and tasks["Accruals"].preparer == team["preparer"]
    assert tasks["Flux review"].due_date == date(2026, 4, 6)
    assert [d.name for d in tasks["Flux review"].depends_on.all()] == ["Accruals"]
    # the built-in steps are there, and revaluation only where the period has foreign currencies
    assert {t.builtin for t in tasks.values() if t.builtin} == {Builtin.REVIEW, Builtin.SYNC, Builtin.LOCK}
    assert start_checklist("2026-03").pk == checklist.pk  # once per period
    assert AuditEvent.objects.filter(action="checklist.create").count() == 1
    # the preparer is told the task is theirs
    assigned = Notification.objects.get(kind=Notification.Kind.TASK_ASSIGNED, user=team["preparer"], title__contains="Accruals")
    assert assigned.link.endswith(f"/tasks/{tasks['Accruals'].pk}/")


def test_a_period_that_has_not_ended_gets_no_checklist(company, team, task_template, start_checklist):
    task_template()
    with pytest.raises(ChecklistError, match="not ended"):
        start_checklist("2026-05")


def test_revaluation_appears_where_the_period_has_foreign_currency_lines(company, team, task_template, start_checklist):
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    sales = AccountFactory(company=company, code="4000", type=Account.Type.REVENUE)
    ledger_services.journal_entry_create(
        company=company,
        entry_date=date(2026, 4, 10),
        actor=None,
        lines=[
            ledger_services.LineInput(cash, debit="10.00", currency="EUR"),
            ledger_services.LineInput(sales, credit="10.00", currency="EUR"),
        ],
    )
    task_template()
    march, april = start_checklist("2026-03"), start_checklist("2026-04")
    assert not march.tasks.filter(builtin=Builtin.REVALUATION).exists()
    assert april.tasks.filter(builtin=Builtin.REVALUATION).exists()


def test_the_beat_starts_the_checklist_of_periods_ended_since_the_template_existed(company, team, task_template):
    from freezegun import freeze_time

    with freeze_time("2026-04-15 09:00:00"):
        task_template()
    made = services.checklists_open_ended(company=company)
    assert [c.key for c in made] == ["2026-04"]  # March had ended before the template: left alone
    assert services.checklists_open_ended(company=company) == []


def test_prepare_review_done_with_every_move_audited_CL1(company, team, task_template, start_checklist):
    task_template("Accruals")
    start_checklist()
    task = _task(company, "Accruals")
    with pytest.raises(ChecklistError, match="Only the task's preparer"):
        services.task_prepare(task=task, actor=team["reviewer"], note="not mine")
    with pytest.raises(ChecklistError, match="Only the task's reviewer"):
        services.task_review(task=task, actor=team["manager"])
    with pytest.raises(ChecklistError, match="open: it cannot become reviewed"):
        services.task_review(task=task, actor=team["reviewer"])

    task = services.task_prepare(task=task, actor=team["preparer"], note="Accrued 3 invoices")
    assert task.state == ChecklistTask.State.PREPARED and task.prepared_by == team["preparer"]
    waiting = Notification.objects.get(kind=Notification.Kind.TASK_WAITING_REVIEW)
    assert waiting.user == team["reviewer"] and "Accrued 3 invoices" in waiting.body

    task = services.task_review(task=task, actor=team["reviewer"])
    assert task.state == ChecklistTask.State.DONE and task.reviewed_by == team["reviewer"]
    moves = list(AuditEvent.objects.filter(subject_type="ChecklistTask", subject_id=str(task.pk)).order_by("id"))
    assert [(e.action, e.before["state"], e.after["state"]) for e in moves] == [
        ("checklist_task.prepared", "open", "prepared"),
        ("checklist_task.reviewed", "prepared", "reviewed"),
        ("checklist_task.done", "reviewed", "done"),
    ]
    assert moves[0].actor == team["preparer"] and moves[0].after["note"] == "Accrued 3 invoices"
    assert moves[1].actor == team["reviewer"]


def test_a_reviewer_cannot_review_their_own_preparation_CL1(company, team, task_template, start_checklist):
    task_template("Accruals")
    start_checklist()
    task = services.task_prepare(task=_task(company, "Accruals"), actor=team["preparer"])
    # however the task came to name them its reviewer, the person who prepared it cannot sign it off
    ChecklistTask.objects.filter(pk=task.pk).update(reviewer=team["preparer"])
    with pytest.raises(ChecklistError, match="another member reviews it"):
        services.task_review(task=task, actor=team["preparer"])
    assert ChecklistTask.objects.get(pk=task.pk).state == ChecklistTask.State.PREPARED
    # and a manager cannot make them its reviewer either
    ChecklistTask.objects.filter(pk=task.pk).update(reviewer=team["reviewer"])
    with pytest.raises(ChecklistError, match="reviewer prepared this task"):
        services.task_reassign(task=task, actor=team["manager"], preparer=team["manager"], reviewer=team["preparer"])


def test_send_back_needs_a_reason_and_tells_the_preparer_CL1(company, team, task_template, start_checklist):
    task_template("Accruals")
    start_checklist()
    task = services.task_prepare(task=_task(company, "Accruals"), actor=team["preparer"])
    with pytest.raises(ChecklistError, match="Say why") as refused:
        services.task_send_back(task=task, actor=team["reviewer"], reason="  ")
    assert refused.value.field == "reason"
    with pytest.raises(ChecklistError, match="Only the task's reviewer"):
        services.task_send_back(task=task, actor=team["preparer"], reason="I changed my mind")
    task = services.task_send_back(task=task, actor=team["reviewer"], reason="The rent accrual is missing.")
    assert task.state == ChecklistTask.State.OPEN and task.sent_back_reason == "The rent accrual is missing."
    told = Notification.objects.get(kind=Notification.Kind.TASK_SENT_BACK)
    assert told.user == team["preparer"] and "The rent accrual is missing." in told.body
    event = AuditEvent.objects.get(action="checklist_task.send_back")
    assert event.reason == "The rent accrual is missing." and event.before["state"] == "prepared"
    with pytest.raises(ChecklistError, match="nothing to send back"):
        services.task_send_back(task=task, actor=team["reviewer"], reason="again")
    # prepared again, it goes through
    task = services.task_prepare(task=task, actor=team["preparer"], note="Rent added")
    assert services.task_review(task=task, actor=team["reviewer"]).state == ChecklistTask.State.DONE


def test_a_reviewed_task_waits_for_what_it_depends_on_then_completes(company, team, task_template, start_checklist):
    accruals = task_template("Accruals", due_day=2)
    task_template("Flux review", due_day=4, depends_on=[accruals])
    start_checklist()
    flux = services.task_prepare(task=_task(company, "Flux review"), actor=team["preparer"])
    flux = services.task_review(task=flux, actor=team["reviewer"])
    assert flux.state == ChecklistTask.State.REVIEWED  # Accruals is not done yet
    accruals_task = services.task_prepare(task=_task(company, "Accruals"), actor=team["preparer"])
    services.task_review(task=accruals_task, actor=team["reviewer"])
    assert _task(company, "Flux review").state == ChecklistTask.State.DONE
    done = AuditEvent.objects.filter(action="checklist_task.done").order_by("id")
    assert [e.after["task"] for e in done if e.actor is None and e.after["task"] in ("Accruals", "Flux review")] == [
        "Accruals",
        "Flux review",
    ]


def test_built_in_steps_complete_themselves_and_lock_waits_for_tasks_due_before_it_CL2(
    company, team, task_template, start_checklist, connected, lock, sync_period
):
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    equity = AccountFactory(company=company, code="3000", type=Account.Type.EQUITY)
    ledger_services.journal_entry_create(
        company=company,
        entry_date=date(2026, 3, 5),
        actor=None,
        lines=[ledger_services.LineInput(cash, debit="5.00"), ledger_services.LineInput(equity, credit="5.00")],
    )
    lock(close_selectors.period_get(company, "2026-02"), team["manager"])
    task_template("Accruals", due_day=2)  # before Lock (WD+5)
    task_template("Flux review", due_day=8)  # after Lock: does not hold it
    start_checklist("2026-03")
    march = close_selectors.period_get(company, "2026-03")

    sync_period(march)
    services.builtins_refresh(company=company, month=march.month)
    steps = {t.builtin: t.state for t in ChecklistTask.objects.filter(checklist__month=march.month).exclude(builtin="")}
    assert steps == {Builtin.REVIEW: "done", Builtin.SYNC: "done", Builtin.LOCK: "open"}

    from closebooks.exceptions import PeriodError
    from closebooks.services import period_lock, period_lock_blockers

    blockers = [b for b in period_lock_blockers(march) if b.code == "task"]
    accruals = _task(company, "Accruals")
    assert len(blockers) == 1 and "Accruals" in blockers[0].message and "waiting for pat" in blockers[0].message
    assert blockers[0].link.endswith(f"/checklist/2026-03/tasks/{accruals.pk}/")
    with pytest.raises(PeriodError, match="Accruals"):
        period_lock(period=march, actor=team["manager"])

    services.task_review(task=services.task_prepare(task=accruals, actor=team["preparer"]), actor=team["reviewer"])
    from closebooks.api.models import WebhookDelivery
    from closebooks.api.services import webhook_create

    webhook_create(company=company, actor=None, url="https://hooks.example.com/in", events=["period.locked"])
    period_lock(period=march, actor=team["manager"])
    (announced,) = WebhookDelivery.objects.filter(event="period.locked")
    assert announced.payload["data"]["period"] == "2026-03" and announced.payload["data"]["state"] == "locked"
    assert _task(company, "Lock the period").state == ChecklistTask.State.DONE
    assert _task(company, "Flux review").state == ChecklistTask.State.OPEN
