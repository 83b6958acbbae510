from datetime import date

import pytest

from closebooks import selectors
from closebooks.celery import app
from closebooks.checklist import services
from ledger import services as ledger_services
from ledger.models import Account, Role
from tests.factories import AccountFactory


@pytest.fixture
def eager_tasks():
    """Celery tasks run in this process while the test lasts, retries included (at once: eager
    Celery re-applies a retried task instead of waiting its countdown, unless it propagates)."""
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def team(company, member, other_company):
    """A company's close team, and someone who belongs to another company only. The company has
    books from February 2026 on, so February to April are periods that have ended."""
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    equity = AccountFactory(company=company, code="3000", type=Account.Type.EQUITY)
    ledger_services.journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 5),
        actor=None,
        lines=[ledger_services.LineInput(cash, debit="5.00"), ledger_services.LineInput(equity, credit="5.00")],
    )
    return {
        "admin": member(company, Role.ADMINISTRATOR, username="ada"),
        "manager": member(company, Role.MANAGER, username="max"),
        "preparer": member(company, Role.ACCOUNTANT, username="pat", email="pat@example.com"),
        "reviewer": member(company, Role.ACCOUNTANT, username="rey", email="rey@example.com"),
        "viewer": member(company, Role.VIEWER, username="vic"),
        "outsider": member(other_company, Role.ADMINISTRATOR, username="otto"),
    }


@pytest.fixture
def task_template(company, team):
    """task_template(name, due_day=3, depends_on=()) -> a template task prepared by pat, reviewed by rey."""

    def make(name="Accruals", due_day=3, depends_on=(), preparer=None, reviewer=None, link=""):
        return services.template_task_save(
            company=company,
            actor=team["manager"],
            name=name,
            instructions=f"Do {name}.",
            preparer=preparer or team["preparer"],
            reviewer=reviewer or team["reviewer"],
            due_day=due_day,
            depends_on=list(depends_on),
            link=link,
        )

    return make


@pytest.fixture
def start_checklist(company, team):
    """start_checklist("2026-03") -> the period's checklist, created by the manager."""

    def make(key="2026-03"):
        period = selectors.period_get(company, key)
        return services.checklist_create(period=period, actor=team["manager"])

    return make
