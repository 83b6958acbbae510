"""Helpers every app may use, with no knowledge of any app: the bottom layer. Nothing here imports
ledger, integrations, reconciliation or closebooks (tests/test_import_graph.py holds it to that)."""
