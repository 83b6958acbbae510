from ledger.exceptions import LedgerError


class ChecklistError(LedgerError):
    """A checklist change refused: a non-member assignee, a self-review, a dependency loop, a move
    the task's state does not allow."""
