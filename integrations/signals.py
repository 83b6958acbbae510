"""Signals integrations sends after something has happened, for the close workflow above it
(integrations never imports closebooks). They only announce: sent after the transaction commits.

``sync_run_finished``: a sync run ended (succeeded, finished with per-entry errors, or failed);
sent with ``run_id``.
``connection_needs_reconnect``: a connection's tokens were refused and it needs to be connected
again by a person; sent with ``connection_id`` and ``message``.
"""

from django.dispatch import Signal

sync_run_finished = Signal()
connection_needs_reconnect = Signal()
