"""The chart of accounts the fake vendors hold by default: the demo company's, less the two
accounts opened in closebooks that the accounting system does not know yet (PC2's "unmapped"
example), with Petty Cash archived there (an account mapped to an archived external account)."""

from ledger.management.commands.seed_demo import CHART

NOT_IN_VENDOR = {"1990", "6990"}
ARCHIVED_IN_VENDOR = {"1050"}


def default_chart() -> list[dict]:
    """[{number, name, type, active}] in the local type vocabulary; each fake translates the type."""
    return [
        {"number": code, "name": name, "type": kind, "active": code not in ARCHIVED_IN_VENDOR}
        for code, name, kind, _ in CHART
        if code not in NOT_IN_VENDOR
    ]
