"""Writers of the close workflow. Period transitions are data (``Period.MOVES``) applied by one
service under the company lock, idempotently, with an audit row (PC1, PC4–PC6)."""

from __future__ import annotations
