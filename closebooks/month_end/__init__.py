"""Month-end close reconciliations (MR1–MR6): the six checks, the reports behind them, charts,
and administrators' acceptance of a failing check. A Django app of its own (label ``month_end``)
inside the close-workflow package, so its models and migrations stay apart from the wizard's."""
