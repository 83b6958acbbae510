"""LR3/LR4: the automatic proposal (three passes), ticking groups, Finish and its write-offs."""

from datetime import date
from decimal import Decimal

import pytest

from ledger.exceptions import LedgerError
from ledger.models import AuditEvent, JournalEntry, JournalLine, Role
from reconciliation import services
from reconciliation.exceptions import ReconciliationConflictError, ReconciliationError
from reconciliation.models import Basis, Proposal, ProposalGroup, ReconciledLine, Reconciliation
from tests.factories import AccountFactory, close_books
from tests.reconciliation.factories import make_books

pytestmark = pytest.mark.django_db


def propose(books, actor=None, line_ids=None):
    proposal = services.proposal_create(company=books.company, account=books.account, actor=actor, line_ids=line_ids)
    return services.proposal_build(proposal=proposal)


def groups_of(proposal):
    return {frozenset(g.line_ids): g for g in ProposalGroup.objects.filter(proposal=proposal)}


def test_pass_1_groups_lines_by_reconciliation_reference_LR3(company):
    books = make_books(company)
    a = books.post("100.00", ref="INV-1")
    b = books.post("-60.00", ref="INV-1", on=date(2026, 1, 12))
    c = books.post("-40.00", ref="INV-1", on=date(2026, 1, 14))
    books.post("55.00", ref="INV-2")  # alone: nothing to settle against
    proposal = propose(books)
    (group,) = ProposalGroup.objects.filter(proposal=proposal)
    assert set(group.line_ids) == {a.pk, b.pk, c.pk}
    assert group.basis == Basis.REFERENCE and group.difference == 0
    assert group.last_line_id == c.pk
    assert "INV-1" in group.reason


@pytest.mark.parametrize(
    ("difference", "proposed"),
    [("0.05", True), ("-0.05", True), ("0.06", False), ("-0.06", False), ("0.00", True)],
    ids=["at-limit-debit", "at-limit-credit", "beyond-debit", "beyond-credit", "exact"],
)
def test_pass_1_permitted_difference_on_both_sides_of_the_limit_LR4(company, difference, proposed):
    books = make_books(company, permitted="0.05")
    books.post("100.00", ref="INV-9")
    books.post(str(Decimal("-100.00") + Decimal(difference)), ref="INV-9", on=date(2026, 1, 20))
    groups = list(ProposalGroup.objects.filter(proposal=propose(books)))
    assert bool(groups) is proposed
    if proposed:
        assert groups[0].difference == Decimal(difference)


def test_pass_2_pairs_opposite_amounts_oldest_entry_date_first_LR3(company):
    books = make_books(company)
    # posted out of date order on purpose: the entry date decides, not the posting order
    d2 = books.post("250.00", on=date(2026, 3, 1))
    c2 = books.post("-250.00", on=date(2026, 3, 5))
    d1 = books.post("250.00", on=date(2026, 1, 1))
    c1 = books.post("-250.00", on=date(2026, 2, 1))
    d3 = books.post("250.00", on=date(2026, 4, 1))  # third debit has no credit: stays open
    groups = groups_of(propose(books))
    assert set(groups) == {frozenset({d1.pk, c1.pk}), frozenset({d2.pk, c2.pk})}
    assert all(g.basis == Basis.AMOUNT for g in groups.values())
    assert not any(d3.pk in ids for ids in groups)
    assert "oldest" in groups[frozenset({d1.pk, c1.pk})].reason


def test_pass_2_ignores_lines_with_a_reference_and_other_currencies(company):
    books = make_books(company)
    books.post("80.00", ref="X-1")
    books.post("-80.00")
    assert not ProposalGroup.objects.filter(proposal=propose(books)).exists()


def test_subset_search_finds_one_payment_for_three_invoices_with_lower_confidence(company):
    books = make_books(company)
    invoices = [
        books.post(amount, on=date(2026, 1, day), description="Harbor Coffee")
        for amount, day in (("120.00", 3), ("75.50", 9), ("310.25", 15))
    ]
    payment = books.post("-505.75", on=date(2026, 2, 1), description="harbor coffee ")
    books.post("-505.75", on=date(2026, 2, 1), description="Someone else")  # other counterparty
    books.post("99.00", on=date(2026, 1, 20), description="Harbor Coffee")  # does not fit
    groups = groups_of(propose(books))
    expected = frozenset({*(i.pk for i in invoices), payment.pk})
    assert expected in groups
    group = groups[expected]
    assert group.basis == Basis.SUBSET
    assert group.confidence < 75  # below every reference or amount match
    assert "harbor coffee" in group.reason.lower() and "3 lines" in group.reason


def test_subset_search_leaves_an_ambiguous_settlement_for_a_person(company):
    books = make_books(company)
    for amount in ("10.00", "20.00", "30.00", "40.00"):
        books.post(amount, description="Acme")
    books.post("-50.00", description="Acme", on=date(2026, 2, 1))  # 10 + 40 or 20 + 30: a person decides
    assert not ProposalGroup.objects.filter(proposal=propose(books)).exists()


def test_subset_search_is_bounded_with_hundreds_of_identical_amounts(company):
    books = make_books(company)
    ids = {books.post("50.00", description="Bulk Buyer").pk for _ in range(300)}
    payment = books.post("-150.00", description="Bulk Buyer", on=date(2026, 1, 20))
    (group,) = ProposalGroup.objects.filter(proposal=propose(books))
    assert payment.pk in group.line_ids and len(group.line_ids) == 4
    # equal amounts are interchangeable: the oldest lines (lowest ids on the same date) are taken
    assert set(group.line_ids) - {payment.pk} == set(sorted(ids)[:3])


def test_every_group_says_why(company):
    books = make_books(company, permitted="1.00")
    books.post("10.00", ref="R1")
    books.post("-9.50", ref="R1")
    books.post("7.00")
    books.post("-7.00")
    for group in ProposalGroup.objects.filter(proposal=propose(books)):
        assert group.reason and group.get_basis_display()


def test_selection_limits_the_proposal_LR3(company):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    c, d = books.post("6.00"), books.post("-6.00")
    groups = groups_of(propose(books, line_ids=[a.pk, b.pk, c.pk]))
    assert set(groups) == {frozenset({a.pk, b.pk})}
    assert d.pk  # not selected, stays out


def test_finish_stamps_code_date_and_user_and_writes_off_on_the_last_line_LR3_LR4(company, member):
    user = member(company, Role.ACCOUNTANT)
    books = make_books(company, permitted="0.50")
    paired = AccountFactory(company=company, code="1210", name="Receivables clearing")
    books.account.reconcile_with = paired
    books.account.save()
    first = books.post("100.00", ref="INV-7", on=date(2026, 1, 1))
    last = books.post("-99.70", ref="INV-7", on=date(2026, 1, 30), account=paired)
    x, y = books.post("12.00"), books.post("-12.00")
    proposal = propose(books, actor=user)
    services.proposal_finish(proposal=proposal, actor=user)

    by_line = dict(ReconciledLine.objects.values_list("line_id", "reconciliation_id"))
    assert by_line[first.pk] == by_line[last.pk] != by_line[x.pk] == by_line[y.pk]
    rec = Reconciliation.objects.get(pk=by_line[first.pk])
    assert rec.code.startswith("R") and rec.reconciled_on == company.today() and rec.reconciled_by == user
    assert rec.write_off_amount == Decimal("-0.30")
    write_off_line = JournalLine.objects.get(pk=rec.write_off_line_id)
    assert write_off_line.account == paired  # the account of the code's last line (LR4)
    assert write_off_line.entry.source == JournalEntry.Source.WRITE_OFF
    assert write_off_line.entry.entry_date == company.today()
    assert by_line[write_off_line.pk] == rec.pk
    lines = JournalLine.objects.filter(pk__in=rec.line_ids)
    assert sum(line.amount for line in lines) == 0
    discrepancy = JournalLine.objects.get(entry=write_off_line.entry, account=books.discrepancy)
    assert discrepancy.debit == Decimal("0.30")
    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.FINISHED


def test_unticking_a_group_keeps_its_lines_open_LR3(company):
    books = make_books(company)
    a, _b = books.post("5.00"), books.post("-5.00")
    c, d = books.post("6.00"), books.post("-6.00")
    proposal = propose(books)
    group = ProposalGroup.objects.get(proposal=proposal, line_ids__contains=[a.pk])
    services.proposal_set_included(proposal=proposal, actor=None, included=False, numbers=[group.number])
    services.proposal_finish(proposal=proposal, actor=None)
    assert set(ReconciledLine.objects.values_list("line_id", flat=True)) == {c.pk, d.pk}


def test_deselect_all_then_select_all(company):
    books = make_books(company)
    books.post("5.00"), books.post("-5.00")
    proposal = propose(books)
    services.proposal_set_included(proposal=proposal, actor=None, included=False)
    assert not ProposalGroup.objects.filter(proposal=proposal, included=True).exists()
    services.proposal_set_included(proposal=proposal, actor=None, included=True)
    assert not ProposalGroup.objects.filter(proposal=proposal, included=False).exists()


def test_finish_fails_whole_when_a_line_was_reconciled_meanwhile(company):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    c, d = books.post("6.00"), books.post("-6.00")
    proposal = propose(books)
    services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    with pytest.raises(ReconciliationConflictError, match="reconciled some lines of this proposal meanwhile"):
        services.proposal_finish(proposal=proposal, actor=None)
    assert not ReconciledLine.objects.filter(line_id__in=[c.pk, d.pk]).exists()
    assert Reconciliation.objects.count() == 1


def test_finish_refuses_a_proposal_whose_lines_were_deleted(company):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    proposal = propose(books)
    from ledger.services import journal_entry_delete

    journal_entry_delete(entry=a.entry, actor=None)
    with pytest.raises(ReconciliationError, match="changed or deleted"):
        services.proposal_finish(proposal=proposal, actor=None)
    assert not ReconciledLine.objects.filter(line_id=b.pk).exists()


def test_a_write_off_needs_the_discrepancy_account(company):
    books = make_books(company, permitted="1.00", with_discrepancy=False)
    books.post("10.00", ref="Q"), books.post("-9.99", ref="Q")
    proposal = propose(books)
    with pytest.raises(ReconciliationError, match="balancing-discrepancies account"):
        services.proposal_finish(proposal=proposal, actor=None)
    assert not Reconciliation.objects.exists()


def test_non_reconcilable_account_cannot_be_proposed_LR1(company):
    books = make_books(company)
    with pytest.raises(ReconciliationError, match="switched off"):
        services.proposal_create(company=company, account=books.counter, actor=None)


def test_blocked_account_still_reconciles_LR2(company):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    books.account.blocked = True
    books.account.save()
    services.proposal_finish(proposal=propose(books), actor=None)
    assert ReconciledLine.objects.filter(line_id__in=[a.pk, b.pk]).count() == 2


def test_finish_writes_off_every_group_in_one_balanced_entry_with_its_audit_row_LR4(company):
    """The write-off lines of a proposal are written set-based: one line per group with a difference on
    the account of its last line, the totals against the balancing-discrepancies account."""
    books = make_books(company, permitted="0.50")
    books.post("100.00", ref="INV-1")  # +0.30 left
    books.post("-99.70", ref="INV-1", on=date(2026, 1, 20))
    books.post("50.00", ref="INV-2")  # -0.20 left
    books.post("-50.20", ref="INV-2", on=date(2026, 1, 21))
    books.post("10.00", ref="INV-3")  # +0.10 left
    books.post("-9.90", ref="INV-3", on=date(2026, 1, 22))
    services.proposal_finish(proposal=propose(books), actor=None)

    (entry,) = JournalEntry.objects.filter(company=company, source=JournalEntry.Source.WRITE_OFF)
    lines = list(entry.lines.order_by("line_no"))
    assert [line.line_no for line in lines] == [1, 2, 3, 4, 5]
    assert sorted((line.debit, line.credit) for line in lines[:3]) == [
        (Decimal("0.00"), Decimal("0.10")),
        (Decimal("0.00"), Decimal("0.30")),
        (Decimal("0.20"), Decimal("0.00")),
    ]
    assert all(line.account == books.account for line in lines[:3])
    assert [(line.account, line.debit, line.credit) for line in lines[3:]] == [
        (books.discrepancy, Decimal("0.40"), Decimal("0.00")),
        (books.discrepancy, Decimal("0.00"), Decimal("0.20")),
    ]
    assert entry.is_balanced and sum(line.amount for line in lines) == 0
    for rec in Reconciliation.objects.all():
        assert sum(line.amount for line in JournalLine.objects.filter(pk__in=rec.line_ids)) == 0
    # audited by the posting service like every entry (issue 16): its lines, in line order
    audit = AuditEvent.objects.get(action="journal_entry.create", subject_id=str(entry.pk))
    assert [row["account"] for row in audit.after["lines"]] == ["1200", "1200", "1200", "8990", "8990"]
    assert audit.after["source"] == "write_off" and audit.after["is_balanced"]


def test_finish_with_a_write_off_into_closed_books_is_refused_and_nothing_is_written_LR4(company):
    """The books-closed guard decides on the write-off date (today): closed through today, Finish is
    refused with its message and neither codes nor a write-off entry are left behind."""
    books = make_books(company, permitted="0.50")
    books.post("100.00", ref="INV-1")
    books.post("-99.70", ref="INV-1", on=date(2026, 1, 20))
    proposal = propose(books)
    close_books(company, company.today())
    with pytest.raises(LedgerError, match="closed"):
        services.proposal_finish(proposal=proposal, actor=None)
    assert not Reconciliation.objects.exists() and not ReconciledLine.objects.exists()
    assert not JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).exists()
    current = Proposal.objects.get(pk=proposal.pk)
    assert current.status == Proposal.Status.READY and "closed" in current.error


def test_finish_refuses_a_write_off_to_a_blocked_discrepancy_account_LR2(company):
    books = make_books(company, permitted="0.50")
    books.post("100.00", ref="INV-1")
    books.post("-99.70", ref="INV-1", on=date(2026, 1, 20))
    proposal = propose(books)
    books.discrepancy.blocked = True
    books.discrepancy.save()
    with pytest.raises(LedgerError, match="blocked"):
        services.proposal_finish(proposal=proposal, actor=None)
    assert not Reconciliation.objects.exists() and not ReconciledLine.objects.exists()
    assert not JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).exists()
