"""Notifications (issue 20 item 3) on the locmem mail backend: each trigger the issue names, the
per-user choice, sending as a Celery task after commit, retried, never blocking the action."""

from datetime import date
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from closebooks.checklist import services as checklist_services
from closebooks.checklist.models import ChecklistTask
from closebooks.notifications import services
from closebooks.notifications.models import Notification, NotificationPreference
from closebooks.notifications.tasks import send_notification_email
from ledger.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def accruals(company, team, task_template, start_checklist):
    task_template("Accruals", due_day=2)
    start_checklist("2026-03")
    return ChecklistTask.objects.get(name="Accruals")


def _emails_to(address):
    return [m for m in mail.outbox if address in m.to]


def test_task_moves_email_the_person_concerned_after_commit(
    company, team, accruals, eager_tasks, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        checklist_services.task_prepare(task=accruals, actor=team["preparer"], note="ready")
    assert not _emails_to("rey@example.com")  # nothing is sent before the action commits
    for callback in callbacks:
        callback()
    (sent,) = _emails_to("rey@example.com")
    assert "waits for your review" in sent.subject and "ready" in sent.body
    assert f"/checklist/2026-03/tasks/{accruals.pk}/" in sent.body
    assert Notification.objects.get(user=team["reviewer"]).email == Notification.Email.SENT

    with django_capture_on_commit_callbacks(execute=True):
        checklist_services.task_send_back(task=accruals, actor=team["reviewer"], reason="Rent is missing")
    (back,) = [m for m in _emails_to("pat@example.com") if "sent back" in m.subject]
    assert "Rent is missing" in back.body


def test_a_task_assigned_is_told_to_its_preparer(
    company, team, task_template, start_checklist, eager_tasks, django_capture_on_commit_callbacks
):
    task_template("Payroll", due_day=1)
    with django_capture_on_commit_callbacks(execute=True):
        start_checklist("2026-03")
    assert any("You prepare “Payroll”" in m.subject for m in _emails_to("pat@example.com"))


def test_due_tomorrow_is_told_once_to_whoever_holds_the_task(company, team, task_template, start_checklist):
    task_template("Payroll", due_day=7)  # April ends Thu 30th: WD+7 is Mon 11 May, the next working day after Sun 10 May
    start_checklist("2026-04")
    assert checklist_services.tasks_due_tomorrow_remind(company=company) == 1
    checklist_services.tasks_due_tomorrow_remind(company=company)
    (told,) = Notification.objects.filter(kind=Notification.Kind.TASK_DUE_TOMORROW)
    assert told.user == team["preparer"] and "Monday 11 May" in told.title


def test_the_per_user_setting_chooses_what_and_how(
    client, company, team, accruals, eager_tasks, django_capture_on_commit_callbacks
):
    client.force_login(team["reviewer"])
    page = client.get(reverse("notifications:preferences"))
    assert page.status_code == 200
    data = {f"{kind}-{how}": "on" for kind in Notification.Kind.values for how in ("in_app", "email")}
    del data["task_waiting_review-email"]  # in the app only
    client.post(reverse("notifications:preferences"), data)
    assert NotificationPreference.objects.get(user=team["reviewer"], kind="task_waiting_review").email is False
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        checklist_services.task_prepare(task=accruals, actor=team["preparer"])
    assert not _emails_to("rey@example.com")
    told = Notification.objects.get(user=team["reviewer"], kind="task_waiting_review")
    assert told.in_app and told.email == Notification.Email.NOT_WANTED
    listed = client.get(reverse("notifications:list"))
    assert told in listed.context["page"].object_list and listed.context["unread"] == 1
    # opening it marks it read and goes to the task
    response = client.post(reverse("notifications:read"), {"id": told.pk})
    assert response.status_code == 302 and response["Location"].endswith(f"/tasks/{accruals.pk}/")
    assert Notification.objects.get(pk=told.pk).read_at is not None
    # nothing at all: no row either
    NotificationPreference.objects.filter(user=team["preparer"], kind="task_sent_back").delete()
    services.preferences_save(user=team["preparer"], choices={"task_sent_back": (False, False)})
    checklist_services.task_send_back(task=accruals, actor=team["reviewer"], reason="again")
    assert not Notification.objects.filter(kind="task_sent_back").exists()


def test_a_failed_send_is_retried_and_never_undoes_the_action(
    company, team, accruals, eager_tasks, django_capture_on_commit_callbacks
):
    calls = {"n": 0}
    real_send = mail.EmailMessage.send

    def flaky(self, fail_silently=False):
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionRefusedError("mail server down")
        return real_send(self, fail_silently=fail_silently)

    with mock.patch.object(mail.EmailMessage, "send", flaky), django_capture_on_commit_callbacks(execute=True):
        task = checklist_services.task_prepare(task=accruals, actor=team["preparer"])
    assert task.state == "prepared"
    told = Notification.objects.get(user=team["reviewer"])
    assert told.email == Notification.Email.SENT and told.email_attempts == 3 and calls["n"] == 3
    assert len(_emails_to("rey@example.com")) == 1

    # a mail server that never answers: the action stands, the email ends up failed with the reason
    with mock.patch.object(mail.EmailMessage, "send", side_effect=ConnectionRefusedError("down")):
        with django_capture_on_commit_callbacks(execute=True):
            checklist_services.task_send_back(task=task, actor=team["reviewer"], reason="Rent is missing")
    assert ChecklistTask.objects.get(pk=task.pk).state == "open"
    back = Notification.objects.get(kind="task_sent_back")
    assert back.email == Notification.Email.FAILED and back.email_attempts == services.EMAIL_MAX_ATTEMPTS
    assert "down" in back.email_error


def test_a_broker_that_is_down_leaves_the_email_for_the_sweep(company, team, accruals, django_capture_on_commit_callbacks):
    with mock.patch.object(send_notification_email, "delay", side_effect=OSError("broker down")):
        with django_capture_on_commit_callbacks(execute=True):
            task = checklist_services.task_prepare(task=accruals, actor=team["preparer"])
    assert task.state == "prepared"
    told = Notification.objects.get(user=team["reviewer"])
    assert told.email == Notification.Email.PENDING
    Notification.objects.filter(pk=told.pk).update(created_at=told.created_at.replace(year=2026, month=5, day=9))
    assert services.emails_pending() == [told.pk]


def test_a_failed_sync_run_tells_those_who_sync(company, team, eager_tasks, django_capture_on_commit_callbacks, connected):
    from integrations import services as integration_services
    from integrations.models import SyncRun

    run = SyncRun.objects.create(company=company, connection=connected, kind=SyncRun.Kind.PUSH, status=SyncRun.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        integration_services.sync_run_fail(run_id=run.pk, error="QuickBooks refused the batch")
    told = Notification.objects.filter(kind=Notification.Kind.SYNC_PROBLEM)
    assert {n.user.username for n in told} == {"ada", "max"}  # administrators and managers, not accountants
    assert "QuickBooks refused the batch" in told.first().body
    assert told.first().link.endswith(f"/integrations/runs/{run.pk}/")


def test_a_run_that_left_per_entry_errors_is_told_once(company, team, connected):
    from integrations.models import SyncRun

    run = SyncRun.objects.create(company=company, connection=connected, status=SyncRun.Status.PARTIAL, done=8, failed=2)
    assert len(services.sync_run_problem_notify(run_id=run.pk)) == 2
    assert services.sync_run_problem_notify(run_id=run.pk) == []  # the signal delivered twice: told once
    assert "2 entries in error" in Notification.objects.first().title
    ok = SyncRun.objects.create(company=company, connection=connected, status=SyncRun.Status.SUCCEEDED)
    assert services.sync_run_problem_notify(run_id=ok.pk) == []


def test_a_connection_that_needs_reconnecting_tells_the_administrators(
    company, team, connected, eager_tasks, django_capture_on_commit_callbacks
):
    from integrations import services as integration_services

    with django_capture_on_commit_callbacks(execute=True):
        integration_services.connection_mark_broken(connection=connected, message="The refresh token was revoked.")
    (told,) = Notification.objects.filter(kind=Notification.Kind.CONNECTION_RECONNECT)
    assert told.user == team["admin"] and "refresh token was revoked" in told.body


def test_a_check_that_starts_failing_after_it_passed_is_told(company, team):
    from closebooks.month_end import checks

    results = {"failing": False}

    def fake_run(company_, first, last):
        from decimal import Decimal

        actual = Decimal("5.00") if results["failing"] and first == date(2026, 3, 1) else Decimal("0.00")
        return [checks.CheckResult("MR1", "Total revenue", "", [], Decimal("0.00"), actual, "", "")]

    with mock.patch("closebooks.month_end.checks.run_checks", fake_run):
        assert services.checks_watch(company=company) == []  # first look: recorded only
        assert services.checks_watch(company=company) == []  # still passing
        results["failing"] = True
        told = services.checks_watch(company=company)
        assert services.checks_watch(company=company) == []  # still failing: told once
    assert {n.user.username for n in told} == {"ada", "max"}
    assert "Total revenue (March 2026) fails now" in told[0].title and "off by 5.00" in told[0].body


def test_notifications_go_to_members_only(company, other_company, team, member):
    outsider = member(other_company, Role.ADMINISTRATOR)
    made = services.notify(company=company, users=[outsider, team["viewer"]], kind="check_failing", title="x")
    assert [n.user for n in made] == [team["viewer"]]
