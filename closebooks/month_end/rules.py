"""The six month-end checks by rule id (DESIGN.md MR1–MR6): what the acceptance model, the checks
and the pages name them. Its own module, below both ``models`` and ``checks``."""

RULES = {
    "MR1": "Total revenue",
    "MR2": "Customer credits",
    "MR3": "Unearned revenue",
    "MR4": "Credit transactions",
    "MR5": "Net cash received",
    "MR6": "AR roll-forward",
}
