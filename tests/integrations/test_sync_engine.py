"""The push engine in-process against the fakes (IN4): exactly one external entry per local entry,
per-entry errors on the run, retries, token refresh, changed entries synced again."""

from datetime import date
from decimal import Decimal

import pytest

from integrations import selectors, services
from integrations.exceptions import IntegrationError, SyncRetryLater
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import Connection, OutboxEntry, SyncRun
from ledger import services as ledger_services
from ledger.models import Account, AuditEvent
from tests.integrations.factories import connect_to_fake, post_entries

pytestmark = pytest.mark.django_db


def run_sync(company, **kwargs):
    run = services.sync_run_start(company=company, actor=None, enqueue=False, **kwargs)
    return services.sync_run_execute(run_id=run.pk, sleep=lambda s: None)


def test_every_entry_exactly_once_in_batches(company, connected, fake):
    entries = post_entries(company, 75)
    run = run_sync(company)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.total, run.done, run.failed) == (75, 75, 0)
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}
    assert run.requests == -(-75 // (30 if isinstance(fake, FakeQuickBooksOnline) else 50))  # batched
    assert not selectors.entries_needing_sync(company).exists()
    # a second sync sends nothing
    again = services.sync_run_start(company=company, actor=None, enqueue=False)
    assert again.total == 0 and again.status == SyncRun.Status.SUCCEEDED
    assert AuditEvent.objects.filter(company=company, action="sync_run.finish").exists()


def test_changed_entry_is_synced_again_as_an_update_not_a_second_entry(company, connected, fake):
    (entry,) = post_entries(company, 1)
    run_sync(company)
    external = OutboxEntry.objects.get(entry=entry).external_id
    lines = [ledger_services.LineInput(line.account, debit=line.debit * 2, credit=line.credit * 2) for line in entry.lines.all()]
    ledger_services.journal_entry_update(entry=entry, entry_date=entry.entry_date, lines=lines, actor=None, memo="doubled")
    assert list(selectors.entries_needing_sync(company)) == [entry]
    run = run_sync(company)
    assert run.done == 1
    assert fake.entries_by_local() == {entry.pk: 1}
    assert OutboxEntry.objects.get(entry=entry).external_id == external
    held = fake.journals[external]
    amounts = [line.get("Amount", line.get("LineAmount")) for line in held.get("Line", held.get("JournalLines"))]
    assert Decimal("200.00") in [abs(Decimal(str(a))) for a in amounts]


def test_unmapped_and_closed_period_entries_are_errors_on_the_run(company, connected, fake):
    """PC2 unmapped accounts never reach the vendor; a closed-period rejection is a row on the run."""
    if isinstance(fake, FakeQuickBooksOnline):
        fake.book_close_date = date(2025, 12, 31)
    else:
        fake.period_lock_date = date(2025, 12, 31)
    good = post_entries(company, 3)
    Account.objects.create(company=company, code="1990", name="Crypto Clearing", type="asset")
    unmapped = post_entries(company, 1, debit="1990")
    closed = post_entries(company, 1, entry_date=date(2025, 12, 20))
    run = run_sync(company)
    assert run.status == SyncRun.Status.PARTIAL
    assert (run.done, run.failed) == (3, 2)
    codes = {issue.entry_id: issue.code for issue in run.issues.all()}
    assert codes == {unmapped[0].pk: "unmapped", closed[0].pk: "closed_period"}
    assert "1990" in run.issues.get(code="unmapped").message
    assert fake.entries_by_local() == {e.pk: 1 for e in good}
    assert list(selectors.unmapped_entries(company)) == unmapped


def test_expired_token_mid_run_is_refreshed_once_and_stored(company, connected, fake):
    post_entries(company, 40)
    old = str(Connection.objects.get(pk=connected.pk).access_token)
    fake.expire_access_tokens()
    run = run_sync(company)
    assert run.status == SyncRun.Status.SUCCEEDED and run.done == 40
    conn = Connection.objects.get(pk=connected.pk)
    assert str(conn.access_token) != old
    assert sum(fake.entries_by_local().values()) == 40


def test_revoked_connection_fails_the_run_and_asks_to_reconnect(company, connected, fake):
    post_entries(company, 2)
    fake.revoke()
    run = run_sync(company)
    assert run.status == SyncRun.Status.FAILED and "connect again" in run.error
    conn = Connection.objects.get(pk=connected.pk)
    assert conn.status == Connection.Status.BROKEN
    assert OutboxEntry.objects.filter(state=OutboxEntry.State.PENDING).count() == 2  # nothing half written
    with pytest.raises(IntegrationError, match="no active accounting connection"):
        services.sync_run_start(company=company, actor=None, enqueue=False)


def test_throttling_and_server_errors_are_retried_with_the_same_key(company, connected, fake):
    entries = post_entries(company, 5)
    target = "batch" if isinstance(fake, FakeQuickBooksOnline) else "ManualJournals"
    fake.inject(target, 429, {}, headers={"Retry-After": "1"}, times=3)
    fake.inject(target, 502, "Bad gateway", times=2)
    run = run_sync(company)
    assert run.status == SyncRun.Status.SUCCEEDED and run.requests == 6
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_lost_response_is_resent_with_its_key_and_the_vendor_replays(company, connected, fake):
    """The vendor saved the batch but the answer never arrived: the retry carries the same key."""
    entries = post_entries(company, 4)
    target = "batch" if isinstance(fake, FakeQuickBooksOnline) else "ManualJournals"
    fake.inject(target, 504, "Gateway timeout", after_commit=True)
    run = run_sync(company)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_vendor_down_for_long_gives_the_task_back_and_a_later_run_resumes_with_the_keys(company, connected, fake):
    entries = post_entries(company, 3)
    target = "batch" if isinstance(fake, FakeQuickBooksOnline) else "ManualJournals"
    fake.inject(target, 503, "down", times=services.MAX_TRANSIENT_ATTEMPTS, after_commit=True)
    run = services.sync_run_start(company=company, actor=None, enqueue=False)
    with pytest.raises(SyncRetryLater):
        services.sync_run_execute(run_id=run.pk, sleep=lambda s: None)
    keys = set(OutboxEntry.objects.filter(run=run).values_list("request_key", flat=True))
    assert len(keys) == 1 and "" not in keys
    run = services.sync_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_period_scope(company, connected, fake):
    january = post_entries(company, 2, entry_date=date(2026, 1, 10))
    post_entries(company, 2, entry_date=date(2026, 2, 10))
    run = run_sync(company, period_start=date(2026, 1, 1), period_end=date(2026, 1, 31))
    assert run.total == 2 and set(fake.entries_by_local()) == {e.pk for e in january}
    assert selectors.entries_needing_sync(company, period_start=date(2026, 1, 1), period_end=date(2026, 1, 31)).count() == 0
    assert selectors.entries_needing_sync(company).count() == 2


def test_starting_twice_returns_the_running_run(company, connected):
    post_entries(company, 2)
    first = services.sync_run_start(company=company, actor=None, enqueue=False)
    assert services.sync_run_start(company=company, actor=None, enqueue=False).pk == first.pk


def test_closed_date_pull_records_the_vendor_date(company, connected, fake):
    """BC7: pulled one way and recorded on the connection and a run."""
    if isinstance(fake, FakeQuickBooksOnline):
        fake.book_close_date = date(2026, 2, 28)
    else:
        fake.end_of_year_lock_date = date(2026, 2, 28)
    run = services.closed_date_pull(connection=connected)
    assert run.status == SyncRun.Status.SUCCEEDED and run.result["closed_through"] == "2026-02-28"
    assert Connection.objects.get(pk=connected.pk).remote_closed_date == date(2026, 2, 28)


def test_mapping_to_an_archived_external_account_is_refused(company, fake):
    conn = connect_to_fake(company, fake, map_accounts=False)
    petty = Account.objects.get(company=company, code="1050")
    archived = conn.external_accounts.get(number="1050")
    with pytest.raises(IntegrationError, match="archived"):
        services.mappings_save(connection=conn, choices={petty.pk: archived.pk}, actor=None)
    assert not conn.mappings.exists()


def test_suggestions_by_number_then_name(company, fake):
    conn = connect_to_fake(company, fake, map_accounts=False)
    Account.objects.create(company=company, code="9999", name="RENT", type="expense")
    rows = {r.account.code: r for r in selectors.mapping_rows(conn)}
    assert rows["6100"].suggestion.number == "6100" and rows["6100"].reason == "same number"
    assert rows["9999"].suggestion.number == "6100" and rows["9999"].reason == "same name"
    assert rows["1050"].suggestion is None  # only an archived match


def test_pulled_closed_date_moves_the_books_forward_and_never_back_BC7_BC8(company, fake_qbo):
    from ledger.models import BooksClosedSetting
    from ledger.services import books_closed_update
    from tests.integrations.factories import connect_to_fake

    conn = connect_to_fake(company, fake_qbo)
    fake_qbo.book_close_date = date(2026, 1, 31)
    run = services.closed_date_pull(connection=conn)
    assert run.result["applied_to_ledger"] is True
    setting = BooksClosedSetting.objects.get(company=company, entity__isnull=True)
    assert setting.closed_date == date(2026, 1, 31) and setting.source == BooksClosedSetting.Source.INTEGRATION
    assert setting.source_name == "QuickBooks Online"
    books_closed_update(company=company, actor=None, closed_date=date(2026, 2, 28))
    fake_qbo.book_close_date = date(2025, 12, 31)  # earlier in the vendor: ours stays, the mismatch shows
    services.closed_date_pull(connection=conn)
    setting.refresh_from_db()
    assert setting.closed_date == date(2026, 2, 28) and setting.pulled_date == date(2025, 12, 31) and setting.mismatch
