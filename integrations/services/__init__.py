"""The only writers of integrations data, split by job: ``connections`` (IN2), ``chart`` of accounts
and mappings (IN3), ``closed_dates`` (IN5, BC7–BC9), ``inbound`` transactions (IN6, BC6) and
``push`` (IN4), with ``runs`` for what every sync run shares. A job reaches the vendor through its
connection's transport (``transports``: direct, or ``queued`` for the Web Connector), which the
entry points ``accounts_pull``, ``closed_date_pull``, ``inbound_pull`` and ``sync_run_start`` ask.
Keyword-only, one transaction per write, an audit row for each change (PC6). Network calls happen
outside database transactions. Import from ``integrations.services``: every public service is
re-exported here."""

from .chart import accounts_store, items_add, items_store, mappings_save
from .closed_dates import closed_date_apply, closed_date_store
from .connections import (
    call_with_token,
    connection_connect,
    connection_connect_chosen,
    connection_connect_credentials,
    connection_disconnect,
    connection_entity_get,
    connection_mark_broken,
    connection_tokens_refresh,
    entities_pull,
    entity_closed_date_set,
    entity_closed_refusal,
    entity_date_to_ledger,
    oauth_authorize_origins,
    oauth_authorize_url,
    pkce_pair,
    provider_config,
    provider_for,
)
from .inbound import inbound_store, inbound_waiting_post
from .push import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_THROTTLED_WAITS,
    MAX_TRANSIENT_ATTEMPTS,
    backoff,
    sync_run_create,
    sync_run_execute,
    sync_runs_stalled,
)
from .runs import sync_run_fail
from .transports import accounts_pull, closed_date_pull, inbound_pull, sync_run_start, transport_for

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MAX_THROTTLED_WAITS",
    "MAX_TRANSIENT_ATTEMPTS",
    "accounts_pull",
    "accounts_store",
    "backoff",
    "call_with_token",
    "closed_date_apply",
    "closed_date_pull",
    "closed_date_store",
    "connection_connect",
    "connection_connect_chosen",
    "connection_connect_credentials",
    "connection_disconnect",
    "connection_entity_get",
    "connection_mark_broken",
    "connection_tokens_refresh",
    "entities_pull",
    "entity_closed_date_set",
    "entity_closed_refusal",
    "entity_date_to_ledger",
    "inbound_pull",
    "inbound_store",
    "inbound_waiting_post",
    "items_add",
    "items_store",
    "mappings_save",
    "oauth_authorize_origins",
    "oauth_authorize_url",
    "pkce_pair",
    "provider_config",
    "provider_for",
    "sync_run_create",
    "sync_run_execute",
    "sync_run_fail",
    "sync_run_start",
    "sync_runs_stalled",
    "transport_for",
]
